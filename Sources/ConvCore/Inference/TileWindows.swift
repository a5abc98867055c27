// Which part of each layer's output a tile model needs. A crop autoencoder computes 36x36 maps
// only to keep the central 16x16 of the last one: walking back from the output through each
// layer's geometry, the last layers need little more than the core and the first ones the
// receptive field around it. Each layer then computes its window alone, with the same numbers
// and a fraction of the arithmetic (2.6x less for the two-level U-Net of the benchmarks). A
// layer whose window the walk cannot follow (strided 'same' pooling at the edge, upsampling,
// ...) is computed whole, from whole inputs.

/// What one node computes: `output` of its full output map, from `inputs` of its inputs' maps.
struct NodeWindows: Sendable {
    let output: TileWindow
    let inputs: [TileWindow]
    /// The walk could not follow this node's geometry: it runs as in the full model.
    let whole: Bool
}

/// Rows and columns of a layer's full output.
struct TileWindow: Equatable, Sendable {
    var rows: Range<Int>, cols: Range<Int>

    func union(_ other: TileWindow) -> TileWindow {
        TileWindow(rows: min(rows.lowerBound, other.rows.lowerBound)..<max(rows.upperBound, other.rows.upperBound),
                   cols: min(cols.lowerBound, other.cols.lowerBound)..<max(cols.upperBound, other.cols.upperBound))
    }
}

enum TileWindows {
    /// Per node, what the plan computes (nil for nodes the output does not need); nil when a
    /// map's size is free or a value is not an image.
    static func analyse(_ graph: ModelGraph) -> [NodeWindows?]? {
        let nodes = graph.nodes
        guard graph.outputNodes.count == 1,
              nodes.allSatisfy({ $0.outputDims.count == 3 && $0.outputDims[0] != nil && $0.outputDims[1] != nil }) else { return nil }
        func whole(_ dims: Dims) -> TileWindow { TileWindow(rows: 0..<dims[0]!, cols: 0..<dims[1]!) }
        var wanted = [TileWindow?](repeating: nil, count: nodes.count)
        var result = [NodeWindows?](repeating: nil, count: nodes.count)
        wanted[graph.outputNodes[0]] = whole(nodes[graph.outputNodes[0]].outputDims)
        for i in nodes.indices.reversed() {
            guard let window = wanted[i] else { continue }
            let node = nodes[i]
            if node.isInput {
                result[i] = NodeWindows(output: whole(node.outputDims), inputs: [], whole: true)
                continue
            }
            let needs = needed(node, window)
            let computed = needs.map { NodeWindows(output: window, inputs: $0, whole: false) }
                ?? NodeWindows(output: whole(node.outputDims), inputs: node.inputDims.map(whole), whole: true)
            result[i] = computed
            for (k, j) in node.inputs.enumerated() { wanted[j] = wanted[j].map { $0.union(computed.inputs[k]) } ?? computed.inputs[k] }
        }
        return result
    }

    /// The windows of a node's inputs that `window` of its output reads (within the inputs), nil
    /// when the node must be computed whole.
    static func needed(_ node: ModelGraph.Node, _ window: TileWindow) -> [TileWindow]? {
        let input = node.inputDims.first.map { (rows: $0[0]!, cols: $0[1]!) }
        /// A sliding window's reach; nil (compute whole) when `inside` and it reaches past the input.
        func sliding(_ k: (Int, Int), _ s: (Int, Int), _ padding: Padding, inside: Bool) -> [TileWindow]? {
            guard let input else { return nil }
            func axis(_ r: Range<Int>, _ k: Int, _ s: Int, _ size: Int) -> Range<Int>? {
                let before = padding.before(size, kernel: k, stride: s)
                let first = r.lowerBound * s - before, end = (r.upperBound - 1) * s - before + k
                if inside && (first < 0 || end > size) { return nil }
                return max(first, 0)..<min(end, size)
            }
            guard let rows = axis(window.rows, k.0, s.0, input.rows), let cols = axis(window.cols, k.1, s.1, input.cols) else { return nil }
            return [TileWindow(rows: rows, cols: cols)]
        }
        switch node.layer {
        case let conv as Conv2D:
            return sliding(conv.kernel, conv.strides, conv.padding, inside: false)
        case let pool as any Pooling2D:
            // A pooled window is the 'valid' pooling of exactly the input it reads, when no window
            // reaches into the padding.
            return sliding(pool.pool, pool.strides, pool.padding, inside: true)
        case let conv as Conv2DTranspose:
            guard let input else { return nil }
            // Input pixel i lands on outputs i * s - crop ..< i * s - crop + k.
            func axis(_ r: Range<Int>, _ k: Int, _ s: Int, _ size: Int) -> Range<Int> {
                let crop = conv.cropStart(kernel: k, stride: s)
                let first = max(0, -floorDivide(-(r.lowerBound + crop - k + 1), s)), last = min(size - 1, floorDivide(r.upperBound - 1 + crop, s))
                return first <= last ? first..<(last + 1) : first..<first
            }
            return [TileWindow(rows: axis(window.rows, conv.kernel.0, conv.strides.0, input.rows),
                               cols: axis(window.cols, conv.kernel.1, conv.strides.1, input.cols))]
        case let crop as Cropping2D:
            return [TileWindow(rows: (window.rows.lowerBound + crop.top)..<(window.rows.upperBound + crop.top),
                               cols: (window.cols.lowerBound + crop.left)..<(window.cols.upperBound + crop.left))]
        case let concatenate as Concatenate:
            return concatenate.axis == -1 || concatenate.axis == 3 ? node.inputs.map { _ in window } : nil
        case is ActivationLayer, is BatchNormalization, is Dropout, is any ElementwiseMerge, is any ColourLayer, is Dense:
            return node.inputs.map { _ in window }
        default:
            return nil
        }
    }
}
