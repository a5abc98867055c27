// A model compiled for inference. Convolution weights are packed once; a BatchNormalization right
// after a linear convolution is folded into its weights and bias, one after an activated
// convolution runs in the convolution's epilogue; an Activation layer after a convolution is fused
// into it; Dropout disappears. A batch is split across a worker pool, each thread running the
// whole graph on its share, so there is no barrier between layers.

public struct InferencePlan: Sendable {
    enum Operation: Sendable {
        case convolution(Conv2D, DirectConvolution, Epilogue)
        case layer(any Layer, [Tensor])
    }

    struct Step: Sendable {
        /// The node whose value this step computes (a fused chain computes its last node's value).
        let node: Int
        let inputs: [Int]
        let operation: Operation
    }

    let graph: ModelGraph
    let steps: [Step]
    /// Nodes whose value is another node's (folded or removed layers), resolved to the source.
    let source: [Int]

    public init(_ model: Model) {
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
            if let conv = node.layer as? Conv2D {
                var kernel = parameters[0]
                var bias = conv.useBias ? parameters[1].scalars : [Float](repeating: 0, count: conv.filters)
                var epilogue = Epilogue(activation: conv.activation)
                var chain = [i]
                if let j = soleConsumer(i), let bn = nodes[j].layer as? BatchNormalization {
                    let (scale, shift) = bn.inferenceAffine(model.parameters[j], channels: conv.filters)
                    if conv.activation == .linear {
                        for k in 0..<kernel.count { kernel.scalars[k] *= scale[k % conv.filters] }
                        bias = (0..<conv.filters).map { bias[$0] * scale[$0] + shift[$0] }
                    } else {
                        epilogue.affine = (scale, shift)
                    }
                    chain.append(j)
                }
                if epilogue.activation == .linear && epilogue.affine == nil,
                   let j = soleConsumer(chain.last!), let activation = nodes[j].layer as? ActivationLayer {
                    epilogue.activation = activation.activation
                    chain.append(j)
                }
                let last = chain.last!
                for k in chain { source[k] = last }
                absorbed.formUnion(chain)
                steps.append(Step(node: last, inputs: inputs,
                                  operation: .convolution(conv, DirectConvolution(kernel: kernel, bias: bias), epilogue)))
            } else if node.layer is Dropout {
                source[i] = inputs[0]
            } else {
                steps.append(Step(node: i, inputs: inputs, operation: .layer(node.layer, parameters)))
            }
        }
        self.steps = steps
        self.source = source
    }

    /// The output for a batch of one input, split across `pool`'s threads (a model with several
    /// inputs or outputs goes through `Model.predict`).
    public func predict(_ x: Tensor, pool: WorkerPool) throws -> Tensor {
        let n = x.shape.first ?? 0
        let parts = min(pool.threads, n)
        guard parts > 1 else { return try run(x) }
        let perSample = x.count / n
        let ranges = (0..<parts).map { p in (p * n / parts)..<((p + 1) * n / parts) }
        let pieces = try pool.map(parts: parts) { p in
            let r = ranges[p]
            return try run(Tensor(shape: [r.count] + x.shape.dropFirst(),
                                  scalars: Array(x.scalars[(r.lowerBound * perSample)..<(r.upperBound * perSample)])))
        }
        var scalars: [Float] = []
        scalars.reserveCapacity(pieces.reduce(0) { $0 + $1.count })
        for piece in pieces { scalars.append(contentsOf: piece.scalars) }
        return Tensor(shape: [n] + pieces[0].shape.dropFirst(), scalars: scalars)
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
                let g = WindowGeometry(inH: h, inW: w, kernel: conv.kernel, strides: conv.strides, padding: conv.padding)
                values[step.node] = kernel.run(xs[0], geometry: g, epilogue: epilogue)
            case let .layer(layer, parameters):
                _ = try layer.outputShape(xs.map { $0.shape.dropFirst().map { $0 } })
                values[step.node] = try layer.forward(xs, parameters, &context)
            }
            for j in step.inputs {
                remainingUses[j] -= 1
                if remainingUses[j] == 0 { values[j] = nil }
            }
        }
        return values[output]!
    }
}

/// A value handed to pool threads that write disjoint parts of it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
