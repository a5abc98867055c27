// What a forward pass costs: multiply-adds per sample, counted from the graph's shapes (the
// layers that multiply; pooling, merges and activations are a rounding error beside them).

extension Model {
    /// Multiply-adds of one sample's forward pass; layers with unknown sizes count 0.
    public var multiplyAdds: Int {
        graph.nodes.reduce(0) { total, node in
            let input = node.inputDims.first ?? [], output = node.outputDims
            guard input.allSatisfy({ $0 != nil }), output.allSatisfy({ $0 != nil }) else { return total }
            let i = input.map { $0! }, o = output.map { $0! }
            switch node.layer {
            case let conv as Conv2D: return total + o[0] * o[1] * conv.kernel.0 * conv.kernel.1 * i[2] * o[2]
            case let conv as Conv2DTranspose: return total + i[0] * i[1] * conv.kernel.0 * conv.kernel.1 * i[2] * o[2]
            case is Dense: return total + o.reduce(1, *) * i.last!
            default: return total
            }
        }
    }
}
