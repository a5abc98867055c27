// A model compiled for inference. Convolution weights (Conv2D and Conv2DTranspose) are packed
// once; a BatchNormalization right after a linear convolution is folded into its weights and
// bias, one after an activated convolution runs in the convolution's epilogue; an Activation
// layer after a convolution is fused into it; Dropout disappears. On a model with fixed-size
// maps each layer computes only the window of its output that the final output reads
// (TileWindows), and layers the output does not read are dropped. A batch is cut into chunks of a
// few tiles that the pool's threads take in turn, each running the whole graph on its chunk, so
// there is no barrier between layers.

/// A model compiled for inference: packed and folded convolutions, fused activations, tile windows, batches split across a pool.
public struct InferencePlan: Sendable {
    enum Operation: Sendable {
        case convolution(Conv2D, ConvolutionKernel, Epilogue)
        case transposedConvolution(TransposedConvolution, Epilogue)
        case layer(any Layer, [Tensor])
        /// A Cropping2D on a tile window: the input window is the output.
        case window
    }

    struct Step: Sendable {
        /// The node whose value this step computes (a fused chain computes its last node's value).
        let node: Int
        /// The chain's first node (`node` when nothing is fused).
        var first: Int
        let inputs: [Int]
        var operation: Operation
        /// On tile windows (TileWindows): what the chain's first node computes, and the window
        /// each input holds (it may hold more than this step reads, for its other consumers).
        var window: (computed: NodeWindows, have: [TileWindow])?
        /// A convolution's geometry on its input window.
        var geometry: KernelGeometry?
    }

    let graph: ModelGraph
    let steps: [Step]
    /// Nodes whose value is another node's (folded or removed layers), resolved to the source.
    let source: [Int]

    /// `tileWindows: false` computes every map whole, as the model is written (the bench's
    /// measure of what the windows save).
    public init(_ model: Model, tileWindows: Bool = true) {
        let graph = model.graph, nodes = graph.nodes
        self.graph = graph
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, node) in nodes.enumerated() { for j in node.inputs { consumers[j].append(i) } }
        let outputs = Set(graph.outputNodes)
        /// The only consumer of `i`, if `i` is not also a graph output.
        func soleConsumer(_ i: Int) -> Int? {
            consumers[i].count == 1 && !outputs.contains(i) ? consumers[i][0] : nil
        }

        var source = Array(nodes.indices)
        var absorbed = Set<Int>()
        var steps: [Step] = []
        for (i, node) in nodes.enumerated() where !node.isInput && !absorbed.contains(i) {
            let inputs = node.inputs.map { source[$0] }
            let parameters = model.parameters[i]
            if let convolution = node.layer.convolution {
                var kernel = parameters[0]
                let filters = convolution.filters
                var bias = convolution.useBias ? parameters[1].scalars : [Float](repeating: 0, count: filters)
                var epilogue = Epilogue(activation: convolution.activation)
                var chain = [i]
                if let j = soleConsumer(i), let (scale, shift) = nodes[j].layer.inferenceAffine(model.parameters[j], channels: filters) {
                    if convolution.activation == .linear {
                        let channelStride = kernel.shape[(convolution.outputChannelAxis + 1)...].reduce(1, *)
                        for k in 0..<kernel.count { kernel.scalars[k] *= scale[(k / channelStride) % filters] }
                        bias = (0..<filters).map { bias[$0] * scale[$0] + shift[$0] }
                    } else {
                        epilogue.affine = (scale, shift)
                    }
                    chain.append(j)
                }
                if epilogue.activation == .linear && epilogue.affine == nil,
                   let j = soleConsumer(chain.last!), let activation = nodes[j].layer.activationOnly {
                    epilogue.activation = activation
                    chain.append(j)
                }
                let last = chain.last!
                for k in chain { source[k] = last }
                absorbed.formUnion(chain)
                steps.append(Step(node: last, first: i, inputs: inputs, operation: convolution.compile(kernel, bias, epilogue)))
            } else if node.layer.isIdentityAtInference {
                source[i] = inputs[0]
            } else {
                steps.append(Step(node: i, first: i, inputs: inputs, operation: .layer(node.layer, parameters)))
            }
        }
        if tileWindows, let windows = TileWindows.analyse(graph) {
            steps = steps.compactMap { Self.onWindows($0, windows, nodes: nodes) }
        }
        self.steps = steps
        self.source = source
    }

    /// `step` computing only its tile window; nil when the output does not need it.
    private static func onWindows(_ step: Step, _ windows: [NodeWindows?], nodes: [ModelGraph.Node]) -> Step? {
        guard windows[step.node] != nil, let computed = windows[step.first] else { return nil }
        var step = step
        let have = step.inputs.map { windows[$0]!.output }
        step.window = (computed, have)
        switch step.operation {
        case let .convolution(conv, _, _):
            step.geometry = conv.geometry(reading: have[0], for: computed.output, input: nodes[step.first].inputDims[0])
        case let .layer(_, parameters):
            step.operation = computed.layer.map { .layer($0, parameters) } ?? .window
        case .transposedConvolution, .window:
            break
        }
        return step
    }

    /// Input pixels a thread takes through the whole graph at a time (four 36x36 tiles, or one
    /// larger region block): their activations stay in the core's L2 cache, where a large batch's,
    /// layer by layer, would not.
    static let chunkPixels = 4 * 36 * 36

    /// The output for a batch of one input, in chunks across `pool`'s threads (a model with several
    /// inputs or outputs goes through `Model.predict`).
    public func predict(_ x: Tensor, pool: WorkerPool) throws -> Tensor {
        let n = x.shape.first ?? 0
        let chunk = max(1, Self.chunkPixels / max(1, x.shape.dropFirst().prefix(2).reduce(1, *)))
        let parts = min(n, max(pool.threads, (n + chunk - 1) / chunk))
        guard parts > 1 else { return try run(x) }
        let pieces = try pool.map(parts: parts) { p in try run(x.batchSlice((p * n / parts)..<((p + 1) * n / parts))) }
        // Joined across the pool too: one thread copying a large batch's outputs would be the part
        // that does not scale.
        let offsets = pieces.reduce(into: [0]) { $0.append($0.last! + $1.count) }
        return Tensor(shape: [n] + pieces[0].shape.dropFirst()) { out in
            let out = UncheckedSendable(out)
            pool.run(parts: parts) { p in
                pieces[p].scalars.withUnsafeBufferPointer { (out.value + offsets[p]).initialize(from: $0.baseAddress!, count: $0.count) }
            }
        }
    }

    /// The whole graph on one thread.
    func run(_ x: Tensor) throws -> Tensor {
        let nodes = graph.nodes
        guard graph.inputNodes.count == 1, graph.outputNodes.count == 1 else {
            throw ModelError("model '\(graph.name)': the inference plan takes one input and one output")
        }
        let input = graph.inputNodes[0]
        try graph.check(x, fitsInput: input)
        var values = [Tensor?](repeating: nil, count: nodes.count)
        var remainingUses = [Int](repeating: 0, count: nodes.count)
        for step in steps { for j in step.inputs { remainingUses[j] += 1 } }
        let output = source[graph.outputNodes[0]]
        remainingUses[output] += 1
        values[input] = x
        var context = ForwardContext(training: false, generator: SeededGenerator(seed: 0))
        for step in steps {
            let xs = step.inputs.map { values[$0]! }
            switch step.operation {
            case let .convolution(conv, kernel, epilogue):
                let (_, h, w, _) = xs[0].nhwc
                let g = step.geometry ?? KernelGeometry(inH: h, inW: w, kernel: conv.kernel, strides: conv.strides, padding: conv.padding)
                values[step.node] = epilogue.running(channels: kernel.outputChannels) { kernel.run(xs[0], geometry: g, epilogue: $0) }
            case let .transposedConvolution(kernel, epilogue):
                let window = step.window.map { ($0.have[0], $0.computed.output) }
                values[step.node] = epilogue.running(channels: kernel.cout) { kernel.run(xs[0], epilogue: $0, window: window) }
            case let .layer(layer, parameters):
                let read = step.window.map { w in xs.indices.map { Self.part(xs[$0], w.have[$0], w.computed.inputs[$0]) } } ?? xs
                _ = try layer.outputShape(read.map { $0.shape.dropFirst().map { $0 } })
                values[step.node] = try layer.forward(read, parameters, &context)
            case .window:
                values[step.node] = Self.part(xs[0], step.window!.have[0], step.window!.computed.inputs[0])
            }
            for j in step.inputs {
                remainingUses[j] -= 1
                if remainingUses[j] == 0 { values[j] = nil }
            }
        }
        return values[output]!
    }
}

extension InferencePlan {
    /// The `want` window of `x`, which holds the `have` window of its map.
    static func part(_ x: Tensor, _ have: TileWindow, _ want: TileWindow) -> Tensor {
        guard have != want else { return x }
        let (n, _, _, c) = x.nhwc
        return Tensor(shape: [n, want.rows.count, want.cols.count, c],
                      scalars: zeroPadded(x, height: want.rows.count, width: want.cols.count,
                                          top: have.rows.lowerBound - want.rows.lowerBound, left: have.cols.lowerBound - want.cols.lowerBound))
    }
}
