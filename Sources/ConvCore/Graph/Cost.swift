// What a forward pass costs: multiply-adds per sample, as each layer counts them (the layers that
// multiply; pooling, merges and activations are a rounding error beside them), and what an
// inference plan computes of them.

extension Model {
    /// Multiply-adds of one sample's forward pass; layers with unknown sizes count 0.
    public var multiplyAdds: Int {
        graph.nodes.reduce(0) { total, node in
            guard let input = node.inputDims.first.flatMap(known), let output = known(node.outputDims) else { return total }
            return total + node.layer.multiplyAdds(input: input, output: output)
        }
    }
}

extension InferencePlan {
    /// Multiply-adds of one sample through the plan: fewer than the model's when tile windows
    /// trim the maps (a convolution counts the window it computes from the input window it holds).
    public var multiplyAdds: Int {
        steps.reduce(0) { total, step in
            let node = graph.nodes[step.first]
            guard let firstInput = node.inputDims.first, let inputChannels = firstInput.last.flatMap({ $0 }),
                  let outputChannels = node.outputDims.last.flatMap({ $0 }) else { return total }
            var input = known(firstInput), output = known(node.outputDims)
            if let (computed, have) = step.window, node.outputDims.count == 3 {
                // A packed convolution reads the whole window its input holds; other layers the part they need.
                let read = step.geometry != nil || step.operation.isTransposedConvolution ? have[0] : computed.inputs[0]
                input = [read.rows.count, read.cols.count, inputChannels]
                output = [computed.output.rows.count, computed.output.cols.count, outputChannels]
            }
            guard let input, let output else { return total }
            return total + node.layer.multiplyAdds(input: input, output: output)
        }
    }
}

extension InferencePlan.Operation {
    var isTransposedConvolution: Bool {
        if case .transposedConvolution = self { return true }
        return false
    }
}

/// Dims with every size known.
private func known(_ dims: Dims) -> [Int]? {
    dims.allSatisfy { $0 != nil } ? dims.map { $0! } : nil
}
