// A model: the graph of a spec plus its parameter tensors (Keras layouts, named "<layer>.<param>").
// Forward runs in inference mode (predict) or training mode (batch statistics, dropout).

/// A network: the graph of a spec with its parameter tensors, run forward (inference or training mode) and backward.
public struct Model: Sendable {
    let graph: ModelGraph
    public let spec: ModelSpec
    /// Parameters per node, in the order of the node's ParameterSpecs.
    var parameters: [[Tensor]]

    /// A model with fresh weights from the spec's initializers, reproducible from `seed`.
    public init(spec: ModelSpec, seed: UInt64 = 0) throws {
        try self.init(spec: spec, seed: seed, types: layerTypes)
    }

    /// A model whose spec may also name layer types of the caller's (the tests' throwaway layers).
    init(spec: ModelSpec, seed: UInt64, types: [String: any Layer.Type]) throws {
        self.spec = spec
        graph = try ModelGraph(spec, types: types)
        var generator = SeededGenerator(seed: seed)
        parameters = graph.nodes.map { node in
            node.parameters.map { $0.initializer.values(shape: $0.shape, generator: &generator) }
        }
    }

    /// A model with the given weights, which must match the spec exactly and be finite.
    public init(spec: ModelSpec, weights: [String: Tensor]) throws {
        self.spec = spec
        graph = try ModelGraph(spec)
        var unused = Set(weights.keys)
        parameters = try graph.nodes.map { node in
            try node.parameters.map { p in
                let key = "\(node.name).\(p.name)"
                guard let t = weights[key] else { throw ModelError("weights: missing tensor '\(key)' of shape \(p.shape)") }
                guard t.shape == p.shape else {
                    throw ModelError("weights: tensor '\(key)' has shape \(t.shape), the spec needs \(p.shape)")
                }
                guard t.scalars.allSatisfy(\.isFinite) else { throw ModelError("weights: tensor '\(key)' holds NaN or infinite values") }
                unused.remove(key)
                return t
            }
        }
        if let extra = unused.sorted().first {
            throw ModelError("weights: tensor '\(extra)' is not a parameter of spec '\(spec.name)'")
        }
    }

    public var name: String { graph.name }

    /// Every parameter by its file name, in graph order.
    public var weights: [(name: String, tensor: Tensor)] {
        zip(graph.nodes, parameters).flatMap { node, tensors in
            zip(node.parameters, tensors).map { ("\(node.name).\($0.name)", $1) }
        }
    }

    /// Inference: moving statistics, no dropout.
    public func predict(_ inputs: [Tensor]) throws -> [Tensor] {
        var context = ForwardContext(training: false, generator: SeededGenerator(seed: 0))
        return try run(inputs, &context, keep: false).outputs
    }

    /// Inference on a model with one input and one output.
    public func predict(_ input: Tensor) throws -> Tensor { try predict([input])[0] }

    /// Training-mode forward: batch statistics (moving statistics updated in place) and dropout
    /// masks drawn from `generator`.
    public mutating func forwardTraining(_ inputs: [Tensor], generator: inout SeededGenerator) throws -> [Tensor] {
        try record(inputs, training: true, generator: &generator).outputs
    }

    /// A forward pass that keeps what the backward pass needs. In training mode BatchNormalization
    /// uses batch statistics and moves its moving statistics, and Dropout drops.
    /// `share`: this pass is one share of a batch split across threads.
    /// On fixed-size maps each node computes only the window of its map that reaches the output
    /// (TileWindows, in training mode), and the backward pass runs on the same windows;
    /// `tileWindows: false` computes every map whole (the tests' reference).
    mutating func record(_ inputs: [Tensor], training: Bool, generator: inout SeededGenerator, share: ShareSlot? = nil,
                         tileWindows: Bool = true) throws -> Tape {
        var context = ForwardContext(training: training, generator: generator, share: share)
        let windows = tileWindows ? TileWindows.analyse(graph, training: training) : nil
        var tape = try run(inputs, &context, keep: true, windows: windows)
        tape.share = share
        for (node, changes) in tape.updates { for (p, t) in changes { parameters[node][p] = t } }
        generator = context.generator
        return tape
    }

    private func run(_ inputs: [Tensor], _ context: inout ForwardContext, keep: Bool, windows: [NodeWindows?]? = nil) throws -> Tape {
        let nodes = graph.nodes
        guard inputs.count == graph.inputNodes.count else {
            throw ModelError("model '\(name)' takes \(graph.inputNodes.count) input(s), got \(inputs.count)")
        }
        let batch = inputs.first?.shape.first ?? 0
        var tape = Tape(training: context.training, windows: windows, values: [Tensor?](repeating: nil, count: nodes.count),
                        inputs: [[Tensor]?](repeating: nil, count: nodes.count), saved: [Tensor?](repeating: nil, count: nodes.count))
        var remainingUses = [Int](repeating: 0, count: nodes.count)
        for node in nodes { for i in node.inputs { remainingUses[i] += 1 } }
        for o in graph.outputNodes { remainingUses[o] += 1 }

        for (k, i) in graph.inputNodes.enumerated() {
            let x = inputs[k]
            try graph.check(x, fitsInput: i)
            guard x.shape[0] == batch else { throw ModelError("inputs have different batch sizes") }
            tape.values[i] = x
        }
        for (i, node) in nodes.enumerated() where !node.isInput {
            var xs = node.inputs.map { tape.values[$0] }
            let layer: any Layer
            if let windows {
                guard let window = windows[i] else { continue }
                // The maps were fixed when the windows were found.
                xs = node.inputs.indices.map { k in
                    InferencePlan.part(xs[k]!, windows[node.inputs[k]]!.output, window.inputs[k])
                }
                guard let windowed = window.layer else {
                    tape.values[i] = xs[0]
                    continue
                }
                layer = windowed
            } else {
                // Concrete shapes are checked again: null dims are only fixed now.
                _ = try node.layer.outputShape(xs.map { $0!.shape.dropFirst().map { $0 } })
                layer = node.layer
            }
            let read = xs.map { $0! }
            context.updatedParameters = [:]
            context.saved = nil
            tape.values[i] = try layer.forward(read, parameters[i], &context)
            if !context.updatedParameters.isEmpty { tape.updates.append((i, context.updatedParameters)) }
            tape.saved[i] = context.saved
            if keep {
                tape.inputs[i] = read
                continue
            }
            for j in node.inputs {
                remainingUses[j] -= 1
                if remainingUses[j] == 0 { tape.values[j] = nil }
            }
        }
        tape.outputs = graph.outputNodes.map { tape.values[$0]! }
        return tape
    }

    /// Reverse mode through the graph: gradients of a scalar loss with respect to every input and
    /// parameter, given its gradients with respect to the outputs. A tensor read by several layers
    /// sums their gradients. `inputGradients: false` (training) leaves the gradients with respect
    /// to the model's inputs out (zeros), and with them what only they need.
    func backward(_ tape: Tape, outputGradients: [Tensor], inputGradients: Bool = true) -> Gradients {
        let nodes = graph.nodes
        var grads = [Tensor?](repeating: nil, count: nodes.count)
        /// Adds `g`, the gradient of the window `read` of node's map, to the gradient of the
        /// window the node computed (the same window without tile windows).
        func accumulate(_ node: Int, _ g: Tensor, read: TileWindow? = nil) {
            let have = tape.windows?[node]?.output
            if let read, let have, read != have {
                if grads[node] == nil {
                    let (n, _, _, c) = g.nhwc
                    grads[node] = Tensor(zeros: [n, have.rows.count, have.cols.count, c])
                }
                addWindow(g, into: &grads[node]!, top: read.rows.lowerBound - have.rows.lowerBound,
                          left: read.cols.lowerBound - have.cols.lowerBound)
            } else if grads[node] != nil {
                grads[node]!.scalars.withUnsafeMutableBufferPointer { sum in
                    g.scalars.withUnsafeBufferPointer { g in for i in sum.indices { sum[i] += g[i] } }
                }
            } else {
                grads[node] = g
            }
        }
        for (o, g) in zip(graph.outputNodes, outputGradients) { accumulate(o, g) }
        var parameterGrads = parameters.map { $0.map { Tensor(zeros: $0.shape) } }
        for i in nodes.indices.reversed() where !nodes[i].isInput {
            guard let g = grads[i] else { continue }
            let node = nodes[i], window = tape.windows?[i]
            let dxs: [Tensor]
            let layer = window?.layer ?? node.layer
            if !inputGradients, node.inputs.allSatisfy({ nodes[$0].isInput }),
               let gradients = layer.parameterGradients(tape.inputs[i]!, parameters[i], output: tape.values[i]!, gradient: g) {
                parameterGrads[i] = gradients
                grads[i] = nil
                continue
            }
            if window != nil && window!.layer == nil {
                dxs = [g] // the output window is the input window as it is
            } else {
                let result = layer.backward(tape.inputs[i]!, parameters[i], output: tape.values[i]!, gradient: g,
                                            saved: tape.saved[i], training: tape.training, share: tape.share)
                parameterGrads[i] = result.parameters
                dxs = result.inputs
            }
            for (k, (j, dx)) in zip(node.inputs, dxs).enumerated() { accumulate(j, dx, read: window?.inputs[k]) }
            grads[i] = nil
        }
        return Gradients(inputs: graph.inputNodes.map { grads[$0] ?? Tensor(zeros: tape.values[$0]!.shape) },
                         parameters: parameterGrads)
    }
}

/// What a forward pass computed, kept for the backward pass.
struct Tape {
    let training: Bool
    /// What each node computed of its map (nil: every map whole).
    let windows: [NodeWindows?]?
    /// Per node, the window of its map each computed node produced (nil: not computed).
    var values: [Tensor?]
    /// What each computed node's layer read: its inputs' values, or the windows of them it needs.
    var inputs: [[Tensor]?]
    var saved: [Tensor?]
    var updates: [(Int, [Int: Tensor])] = []
    var outputs: [Tensor] = []
    /// The share of a split batch this pass was (its backward pass reduces there too).
    var share: ShareSlot?
}

/// into[b, top + r, left + c, :] += g[b, r, c, :]: a window's gradient into a larger window's.
private func addWindow(_ g: Tensor, into: inout Tensor, top: Int, left: Int) {
    let (n, h, w, c) = g.nhwc, (_, height, width, _) = into.nhwc
    into.scalars.withUnsafeMutableBufferPointer { out in
        g.scalars.withUnsafeBufferPointer { g in
            for b in 0..<n {
                for r in 0..<h {
                    let source = g.baseAddress! + (b * h + r) * w * c, row = out.baseAddress! + ((b * height + top + r) * width + left) * c
                    for k in 0..<(w * c) { row[k] += source[k] }
                }
            }
        }
    }
}

/// Gradients with respect to a model's inputs and its parameters (per node, in parameter order).
struct Gradients {
    var inputs: [Tensor]
    var parameters: [[Tensor]]
}
