// The region fast path (DESIGN.md §4). A tile model gives each 16x16 core from its 36x36 tile;
// when no core pixel depends, at any layer, on a position outside that layer's tile-sized map
// (the zero padding of 'same' convolutions, the missing neighbours of a transposed convolution),
// and every layer's grid is aligned to multiples of 16 input pixels, the model can run once on a
// region of 16k + 20 pixels and give exactly the cores of the k tiles it covers. The analysis
// propagates, per axis, the interval of positions each core pixel needs from the output back to
// the input through every layer's own geometry.
//
// A region runs as blocks of up to 8x8 tiles (128x128 outputs), each through a plan built for that
// block's fixed size: tile windows (TileWindows) then trim every layer to what the block's core
// reads, and each thread works on one block's maps at a time rather than on a whole band's.

import Foundation

/// The region fast path (DESIGN.md §4): a tile model run on regions of many tiles at once, where the analysis proves it exact.
public struct RegionPlan: Sendable {
    /// How far (input pixels) an output pixel's receptive field reaches from it, largest over both axes.
    public let radius: Int
    let model: Model
    let core: Int, margin: Int
    /// Tiles per block, per axis; a region smaller than that runs as one block of its size.
    public static let blockTiles = 8
    private let plans = BlockPlans()

    /// Analyses `model` for tiles of `tile` pixels with `margin` on each side and a grid of
    /// `tile - 2 * margin`; throws the reason when the region path would not be exact.
    public init(_ model: Model, tile: Int = 36, margin: Int = 10) throws {
        let graph = model.graph, nodes = graph.nodes
        guard graph.inputNodes.count == 1, graph.outputNodes.count == 1 else { throw ModelError("the model has several inputs or outputs") }
        let core = tile - 2 * margin
        guard nodes[graph.inputNodes[0]].outputDims.prefix(2) == [tile, tile],
              nodes[graph.outputNodes[0]].outputDims.prefix(2) == [core, core] else {
            throw ModelError("the model does not map \(tile)x\(tile) tiles to \(core)x\(core) cores")
        }
        for (i, node) in nodes.enumerated() where !node.isInput {
            // Every layer must say which positions it reads; one that does not (or mixes
            // positions) cannot be run on a region.
            for input in node.inputDims {
                for axis in Axis.allCases where node.layer.reach(0...0, axis: axis, input: input) == .everything {
                    throw ModelError("layer '\(node.name)' (\(node.typeName)) mixes positions across the image")
                }
            }
            guard Self.jump(i, nodes).isAligned(to: core) else {
                throw ModelError("layer '\(node.name)' has a grid that is not aligned to \(core) input pixels")
            }
        }
        var radius = 0
        for axis in Axis.allCases {
            // Every position the whole core needs is needed by one of its pixels, so checking each
            // pixel's cone checks the core's.
            for p in 0..<core {
                guard let needed = try Self.neededInput(graph, axis: axis, from: p...p) else { continue }
                radius = max(radius, p + margin - needed.lowerBound, needed.upperBound - p - margin)
            }
        }
        self.radius = radius
        self.model = model
        (self.core, self.margin) = (core, margin)
    }

    /// The model on a region [1, 16r + 20, 16c + 20, channels]: [1, 16r, 16c, outputs]. Its blocks
    /// are split across `pool`; the last block of a row or column is moved back to end at the
    /// region's edge (overlapping its neighbour, whose cores it recomputes identically).
    public func predict(_ region: Tensor, pool: WorkerPool) throws -> Tensor {
        let (n, height, width, c) = region.nhwc
        let (m, margin) = (core, self.margin)
        guard n == 1, height > 2 * margin, width > 2 * margin, (height - 2 * margin) % m == 0, (width - 2 * margin) % m == 0 else {
            throw ModelError("a region must be [1, \(m)r + \(2 * margin), \(m)c + \(2 * margin), channels], got \(region.shape)")
        }
        let (rows, columns) = ((height - 2 * margin) / m, (width - 2 * margin) / m)
        let (blockRows, blockColumns) = (min(rows, Self.blockTiles), min(columns, Self.blockTiles))
        let (bh, bw) = (blockRows * m + 2 * margin, blockColumns * m + 2 * margin)
        let plan = try plans.plan(height: bh, width: bw, model)
        func starts(_ count: Int, _ block: Int) -> [Int] { stride(from: 0, to: count, by: block).map { min($0, count - block) } }
        let origins = starts(rows, blockRows).flatMap { r in starts(columns, blockColumns).map { (r * m, $0 * m) } }
        let blocks = Tensor(shape: [origins.count, bh, bw, c]) { blocks in
            region.scalars.withUnsafeBufferPointer { source in
                for (b, (top, left)) in origins.enumerated() {
                    for y in 0..<bh {
                        (blocks + (b * bh + y) * bw * c).initialize(from: source.baseAddress! + ((top + y) * width + left) * c, count: bw * c)
                    }
                }
            }
        }
        let cores = try plan.predict(blocks, pool: pool)
        let (oh, ow) = (blockRows * m, blockColumns * m), outWidth = columns * m
        guard cores.shape.count == 4, cores.shape[1] == oh, cores.shape[2] == ow else {
            throw ModelError("model '\(model.spec.name)' gives \(cores.shape.dropFirst()) for a \(bh)x\(bw) region, expected \(oh)x\(ow)")
        }
        let k = cores.shape[3]
        // The blocks cover the output (the last of a row or column overlapping its neighbour).
        return Tensor(shape: [1, rows * m, outWidth, k]) { output in
            cores.scalars.withUnsafeBufferPointer { cores in
                for (b, (top, left)) in origins.enumerated() {
                    for y in 0..<oh {
                        (output + ((top + y) * outWidth + left) * k).update(from: cores.baseAddress! + (b * oh + y) * ow * k, count: ow * k)
                    }
                }
            }
        }
    }

    /// Multiply-adds per output pixel on a region of whole blocks (what a large image costs).
    public func multiplyAddsPerOutputPixel() throws -> Double {
        let side = Self.blockTiles * core
        return Double(try plans.plan(height: side + 2 * margin, width: side + 2 * margin, model).multiplyAdds) / Double(side * side)
    }

    // MARK: analysis

    /// Input pixels per pixel of node `i` (a power of two, or its inverse after upsampling).
    private static func jump(_ i: Int, _ nodes: [ModelGraph.Node]) -> Jump {
        let node = nodes[i]
        guard let first = node.inputs.first else { return Jump(numerator: 1, denominator: 1) }
        return jump(first, nodes).times(node.layer.gridStep(.rows), node.layer.gridStep(.columns))
    }

    /// Propagates a needed output interval back to the model input along `axis`, refusing when
    /// some layer would need a position outside its input (padding the tile has and a region
    /// does not, or the other way round); nil when the output reads no input at all.
    private static func neededInput(_ graph: ModelGraph, axis: Axis, from output: ClosedRange<Int>) throws -> ClosedRange<Int>? {
        let nodes = graph.nodes
        var needed = [ClosedRange<Int>?](repeating: nil, count: nodes.count)
        needed[graph.outputNodes[0]] = output
        for i in nodes.indices.reversed() {
            guard let r = needed[i], !nodes[i].isInput else { continue }
            for (k, j) in nodes[i].inputs.enumerated() {
                let input = nodes[i].inputDims[k], size = input[axis.rawValue]!
                let want: ClosedRange<Int>
                switch nodes[i].layer.reach(r, axis: axis, input: input) {
                case .nothing: continue
                case .everything: throw ModelError("layer '\(nodes[i].name)' (\(nodes[i].typeName)) mixes positions across the image")
                case .positions(let p): want = p
                }
                guard want.lowerBound >= 0 && want.upperBound < size else {
                    throw ModelError("layer '\(nodes[i].name)' reaches past the edge of its \(size)-pixel input: the receptive field is wider than the margin")
                }
                needed[j] = needed[j].map { min($0.lowerBound, want.lowerBound)...max($0.upperBound, want.upperBound) } ?? want
            }
        }
        return needed[graph.inputNodes[0]]
    }
}

/// A grid step in input pixels as a fraction (per axis, both axes kept equal or refused).
private struct Jump {
    var numerator: Int, denominator: Int
    var valid = true

    /// After a layer whose grid steps `rows` and `columns` (kept only when the two are equal).
    func times(_ rows: GridStep, _ columns: GridStep) -> Jump {
        Jump(numerator: numerator * rows.inputPixels, denominator: denominator * rows.outputPixels, valid: valid && rows == columns)
    }

    /// A shift of `core` input pixels is a whole number of this node's pixels.
    func isAligned(to core: Int) -> Bool { valid && (core * denominator) % numerator == 0 }
}

/// The plans for each block size a region has needed, built on first use.
private final class BlockPlans: @unchecked Sendable { // `plans` is behind `lock`
    private var plans: [[Int]: InferencePlan] = [:]
    private let lock = NSLock()

    func plan(height: Int, width: Int, _ model: Model) throws -> InferencePlan {
        try lock.withLock {
            if let plan = plans[[height, width]] { return plan }
            let spec = model.spec.withSpatialInput(height: height, width: width)
            let block = try Model(spec: spec, weights: Dictionary(uniqueKeysWithValues: model.weights.map { ($0.name, $0.tensor) }))
            let plan = InferencePlan(block)
            plans[[height, width]] = plan
            return plan
        }
    }
}
