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
    mutating func record(_ inputs: [Tensor], training: Bool, generator: inout SeededGenerator, share: ShareSlot? = nil) throws -> Tape {
        var context = ForwardContext(training: training, generator: generator, share: share)
        var tape = try run(inputs, &context, keep: true)
        tape.share = share
        for (node, changes) in tape.updates { for (p, t) in changes { parameters[node][p] = t } }
        generator = context.generator
        return tape
    }

    private func run(_ inputs: [Tensor], _ context: inout ForwardContext, keep: Bool) throws -> Tape {
        let nodes = graph.nodes
        guard inputs.count == graph.inputNodes.count else {
            throw ModelError("model '\(name)' takes \(graph.inputNodes.count) input(s), got \(inputs.count)")
        }
        let batch = inputs.first?.shape.first ?? 0
        var tape = Tape(training: context.training, values: [Tensor?](repeating: nil, count: nodes.count),
                        saved: [Tensor?](repeating: nil, count: nodes.count))
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
            let xs = node.inputs.map { tape.values[$0]! }
            // Concrete shapes are checked again: null dims are only fixed now.
            _ = try node.layer.outputShape(xs.map { $0.shape.dropFirst().map { $0 } })
            context.updatedParameters = [:]
            context.saved = nil
            tape.values[i] = try node.layer.forward(xs, parameters[i], &context)
            if !context.updatedParameters.isEmpty { tape.updates.append((i, context.updatedParameters)) }
            tape.saved[i] = context.saved
            if keep { continue }
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
    /// sums their gradients.
    func backward(_ tape: Tape, outputGradients: [Tensor]) -> Gradients {
        let nodes = graph.nodes
        var grads = [Tensor?](repeating: nil, count: nodes.count)
        func accumulate(_ node: Int, _ g: Tensor) {
            if var existing = grads[node] {
                for i in existing.scalars.indices { existing.scalars[i] += g.scalars[i] }
                grads[node] = existing
            } else {
                grads[node] = g
            }
        }
        for (o, g) in zip(graph.outputNodes, outputGradients) { accumulate(o, g) }
        var parameterGrads = parameters.map { $0.map { Tensor(zeros: $0.shape) } }
        for i in nodes.indices.reversed() where !nodes[i].isInput {
            guard let g = grads[i] else { continue }
            let node = nodes[i]
            let result = node.layer.backward(node.inputs.map { tape.values[$0]! }, parameters[i], output: tape.values[i]!,
                                             gradient: g, saved: tape.saved[i], training: tape.training, share: tape.share)
            parameterGrads[i] = result.parameters
            for (j, dx) in zip(node.inputs, result.inputs) { accumulate(j, dx) }
            grads[i] = nil
        }
        return Gradients(inputs: graph.inputNodes.map { grads[$0] ?? Tensor(zeros: tape.values[$0]!.shape) },
                         parameters: parameterGrads)
    }
}

/// What a forward pass computed, kept for the backward pass.
struct Tape {
    let training: Bool
    var values: [Tensor?]
    var saved: [Tensor?]
    var updates: [(Int, [Int: Tensor])] = []
    var outputs: [Tensor] = []
    /// The share of a split batch this pass was (its backward pass reduces there too).
    var share: ShareSlot?
}

/// Gradients with respect to a model's inputs and its parameters (per node, in parameter order).
struct Gradients {
    var inputs: [Tensor]
    var parameters: [[Tensor]]
}
