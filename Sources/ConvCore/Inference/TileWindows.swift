// Which part of each layer's output a tile model needs. A crop autoencoder computes 36x36 maps
// only to keep the central 16x16 of the last one: walking back from the output, each layer says
// what its output window reads of its inputs (Layer.windowed), so the last layers need little
// more than the core and the first ones the receptive field around it. Each layer then computes
// its window alone, with the same numbers and a fraction of the arithmetic (2.6x less for the
// two-level U-Net of the benchmarks). A layer that cannot say (strided 'same' pooling at the
// edge, upsampling, any layer without a rule) is computed whole, from whole inputs. Training
// runs on the same windows, forward and backward (the gradient outside a node's window is zero:
// nothing there reaches the output), except for layers whose training-mode numbers depend on the
// whole map (BatchNormalization's batch statistics, Dropout's mask): those stay whole.

/// What one node computes: `output` of its full output map, from `inputs` of its inputs' maps.
struct NodeWindows: Sendable {
    let output: TileWindow
    let inputs: [TileWindow]
    /// What runs on the input windows: the node's layer, a variant of it, or nothing (the output
    /// window is the input window).
    let layer: (any Layer)?
}

enum TileWindows {
    /// Per node, what the plan computes (nil for nodes the output does not need); nil when a
    /// map's size is free or a value is not an image. `training`: for a training-mode pass.
    static func analyse(_ graph: ModelGraph, training: Bool = false) -> [NodeWindows?]? {
        let nodes = graph.nodes
        guard graph.outputNodes.count == 1,
              nodes.allSatisfy({ $0.outputDims.count == 3 && $0.outputDims[0] != nil && $0.outputDims[1] != nil }) else { return nil }
        var wanted = [TileWindow?](repeating: nil, count: nodes.count)
        var result = [NodeWindows?](repeating: nil, count: nodes.count)
        wanted[graph.outputNodes[0]] = TileWindow(whole: nodes[graph.outputNodes[0]].outputDims)
        for i in nodes.indices.reversed() {
            guard let window = wanted[i] else { continue }
            let node = nodes[i]
            if node.isInput {
                result[i] = NodeWindows(output: TileWindow(whole: node.outputDims), inputs: [], layer: node.layer)
                continue
            }
            let computed = (training && node.layer.trainsOnWholeMaps ? nil : node.layer.windowed(window, inputs: node.inputDims))
                .map { NodeWindows(output: window, inputs: $0.inputs, layer: $0.layer) }
                ?? NodeWindows(output: TileWindow(whole: node.outputDims), inputs: node.inputDims.map(TileWindow.init(whole:)), layer: node.layer)
            result[i] = computed
            for (k, j) in node.inputs.enumerated() { wanted[j] = wanted[j].map { $0.union(computed.inputs[k]) } ?? computed.inputs[k] }
        }
        return result
    }
}
