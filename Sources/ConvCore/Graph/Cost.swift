// What a forward pass costs: multiply-adds per sample, counted from the graph's shapes (the
// layers that multiply; pooling, merges and activations are a rounding error beside them), and
// what an inference plan computes of them.

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

extension InferencePlan {
    /// Multiply-adds of one sample through the plan: fewer than the model's when tile windows
    /// trim the maps (a transposed convolution counts its whole input window).
    public var multiplyAdds: Int {
        steps.reduce(0) { total, step in
            let node = graph.nodes[step.first]
            let input = node.inputDims.first ?? [], output = node.outputDims
            switch step.operation {
            case let .convolution(conv, kernel, _):
                guard let (h, w) = step.geometry.map({ ($0.outH, $0.outW) })
                        ?? (output.count == 3 && output[0] != nil && output[1] != nil ? (output[0]!, output[1]!) : nil) else { return total }
                return total + h * w * conv.kernel.0 * conv.kernel.1 * kernel.cin * kernel.cout
            case let .transposedConvolution(kernel, _):
                guard let (h, w) = step.transposedWindow.map({ ($0.input.rows.count, $0.input.cols.count) })
                        ?? (input.count == 3 && input[0] != nil && input[1] != nil ? (input[0]!, input[1]!) : nil) else { return total }
                return total + h * w * kernel.layer.kernel.0 * kernel.layer.kernel.1 * kernel.cin * kernel.cout
            case let .layer(layer, _) where layer is Dense:
                guard input.allSatisfy({ $0 != nil }), output.allSatisfy({ $0 != nil }) else { return total }
                return total + output.map { $0! }.reduce(1, *) * input.last!!
            default:
                return total
            }
        }
    }
}
