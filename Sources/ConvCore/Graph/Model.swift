// A model: the graph of a spec plus its parameter tensors (Keras layouts, named "<layer>.<param>").
// Forward runs in inference mode (predict) or training mode (batch statistics, dropout).

public struct Model: Sendable {
    let graph: ModelGraph
    public let spec: ModelSpec
    /// Parameters per node, in the order of the node's ParameterSpecs.
    var parameters: [[Tensor]]

    /// A model with fresh weights from the spec's initializers, reproducible from `seed`.
    public init(spec: ModelSpec, seed: UInt64 = 0) throws {
        self.spec = spec
        graph = try ModelGraph(spec)
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
        return try run(inputs, &context)
    }

    public func predict(_ input: Tensor) throws -> Tensor { try predict([input])[0] }

    /// Training-mode forward: batch statistics (moving statistics updated in place) and dropout
    /// masks drawn from `generator`.
    public mutating func forwardTraining(_ inputs: [Tensor], generator: inout SeededGenerator) throws -> [Tensor] {
        var context = ForwardContext(training: true, generator: generator)
        var updates: [(Int, Int, Tensor)] = []
        let outputs = try run(inputs, &context) { node, changed in
            for (p, t) in changed { updates.append((node, p, t)) }
        }
        for (node, p, t) in updates { parameters[node][p] = t }
        generator = context.generator
        return outputs
    }

    private func run(_ inputs: [Tensor], _ context: inout ForwardContext,
                     updated: (Int, [Int: Tensor]) -> Void = { _, _ in }) throws -> [Tensor] {
        let nodes = graph.nodes
        guard inputs.count == graph.inputNodes.count else {
            throw ModelError("model '\(name)' takes \(graph.inputNodes.count) input(s), got \(inputs.count)")
        }
        let batch = inputs.first?.shape.first ?? 0
        var values = [Tensor?](repeating: nil, count: nodes.count)
        var remainingUses = [Int](repeating: 0, count: nodes.count)
        for node in nodes { for i in node.inputs { remainingUses[i] += 1 } }
        for o in graph.outputNodes { remainingUses[o] += 1 }

        for (k, i) in graph.inputNodes.enumerated() {
            let x = inputs[k], declared = nodes[i].outputDims
            let fits = x.rank == declared.count + 1 && zip(x.shape.dropFirst(), declared).allSatisfy { $1 == nil || $0 == $1 }
            guard fits else {
                throw ModelError("input '\(nodes[i].name)' expects \(describe(declared)), got \(describe(x.shape.map { $0 }, batch: false))")
            }
            guard x.shape[0] == batch else { throw ModelError("inputs have different batch sizes") }
            values[i] = x
        }
        for (i, node) in nodes.enumerated() where !node.isInput {
            let xs = node.inputs.map { values[$0]! }
            // Concrete shapes are checked again: null dims are only fixed now.
            _ = try node.layer.outputShape(xs.map { $0.shape.dropFirst().map { $0 } })
            context.updatedParameters = [:]
            values[i] = try node.layer.forward(xs, parameters[i], &context)
            if !context.updatedParameters.isEmpty { updated(i, context.updatedParameters) }
            for j in node.inputs {
                remainingUses[j] -= 1
                if remainingUses[j] == 0 { values[j] = nil }
            }
        }
        return graph.outputNodes.map { values[$0]! }
    }
}
