// Turns a spec into layers in topological order with their inputs resolved and every shape
// inferred, refusing unknown types, missing inputs, cycles, dead branches and shape mismatches.

struct ModelGraph: Sendable {
    struct Node: Sendable {
        let name: String
        let layer: any Layer
        /// Indices of predecessor nodes, in the order the layer receives them.
        let inputs: [Int]
        let inputDims: [Dims]
        let outputDims: Dims
        let parameters: [ParameterSpec]
        var isInput: Bool { layer.isModelInput }
        var typeName: String { type(of: layer).typeName }
    }

    let name: String
    /// Topological order: every node after its inputs.
    let nodes: [Node]
    let inputNodes: [Int]
    let outputNodes: [Int]

    /// `types` are the layer types the spec may name (the tests add their own).
    init(_ spec: ModelSpec, types: [String: any Layer.Type] = layerTypes) throws {
        name = spec.name
        let entries = spec.layers
        var index: [String: Int] = [:]
        for (i, e) in entries.enumerated() {
            if index[e.name] != nil { throw ModelError("two layers are named '\(e.name)'") }
            index[e.name] = i
        }

        // Resolve predecessors (spec indices).
        var preds: [[Int]] = []
        for (i, e) in entries.enumerated() {
            guard types[e.type] != nil else {
                throw ModelError("layer '\(e.name)': unknown type '\(e.type)' (known: \(types.keys.sorted().joined(separator: ", ")))")
            }
            if let names = e.inputs {
                if e.type != InputLayer.typeName && names.isEmpty { throw ModelError("layer '\(e.name)': \"inputs\" is empty") }
                preds.append(try names.map { n in
                    guard let j = index[n] else { throw ModelError("layer '\(e.name)': input '\(n)' is not a layer of this spec") }
                    guard j != i else { throw ModelError("layer '\(e.name)' lists itself as an input") }
                    return j
                })
            } else {
                preds.append([i - 1])
            }
        }

        // Kahn's algorithm, always taking the earliest ready layer so spec order is kept.
        var pending = preds.map { Set($0).count }
        var consumers = [[Int]](repeating: [], count: entries.count)
        for (i, ps) in preds.enumerated() { for p in Set(ps) { consumers[p].append(i) } }
        var ready = Set(pending.indices.filter { pending[$0] == 0 })
        var order: [Int] = []
        while let next = ready.min() {
            ready.remove(next)
            order.append(next)
            for c in consumers[next] {
                pending[c] -= 1
                if pending[c] == 0 { ready.insert(c) }
            }
        }
        if order.count < entries.count {
            let stuck = entries.indices.filter { pending[$0] > 0 }.map { "'\(entries[$0].name)'" }
            throw ModelError("the layers \(stuck.joined(separator: ", ")) form a cycle or depend on one")
        }

        // Outputs, and every layer must lead to one.
        let outputSpecIndices = try spec.outputs.map { n in
            guard let j = index[n] else { throw ModelError("output '\(n)' is not a layer of this spec") }
            return j
        }
        var useful = Set(outputSpecIndices)
        for i in order.reversed() where useful.contains(i) { useful.formUnion(preds[i]) }
        if let dead = order.first(where: { !useful.contains($0) }) {
            throw ModelError("layer '\(entries[dead].name)' does not lead to any output (outputs: \(spec.outputs.joined(separator: ", ")))")
        }

        // Build layers and infer shapes in topological order.
        var position = [Int](repeating: 0, count: entries.count)
        var built: [Node] = []
        for (k, i) in order.enumerated() {
            position[i] = k
            let e = entries[i]
            var arguments = LayerArguments(layer: e.name, values: e.arguments)
            let layer = try types[e.type]!.init(name: e.name, arguments: &arguments)
            try arguments.finish(type: e.type)
            let inputs = preds[i].map { position[$0] }
            let inputDims = inputs.map { built[$0].outputDims }
            let outputDims = try layer.outputShape(inputDims)
            built.append(Node(name: e.name, layer: layer, inputs: inputs, inputDims: inputDims,
                              outputDims: outputDims, parameters: try layer.parameters(inputDims)))
        }
        nodes = built
        inputNodes = built.indices.filter { built[$0].isInput }
        outputNodes = outputSpecIndices.map { position[$0] }
    }

    /// A batch fits input node `i` when every declared (non-null) dimension matches.
    func check(_ x: Tensor, fitsInput i: Int) throws {
        let declared = nodes[i].outputDims
        guard x.rank == declared.count + 1, zip(x.shape.dropFirst(), declared).allSatisfy({ $1 == nil || $0 == $1 }) else {
            throw ModelError("input '\(nodes[i].name)' expects \(describe(declared)), got \(describe(x.shape.map { $0 }, batch: false))")
        }
    }
}
