// The region fast path (DESIGN.md §4). A tile model gives each 16x16 core from its 36x36 tile;
// when no core pixel depends, at any layer, on a position outside that layer's tile-sized map
// (the zero padding of 'same' convolutions, the missing neighbours of a transposed convolution),
// and every layer's grid is aligned to multiples of 16 input pixels, the model can run once on a
// region of 16k + 20 pixels and give exactly the cores of the k tiles it covers, with about five
// times less arithmetic. The analysis propagates, per axis, the interval of positions each core
// pixel needs from the output back to the input through every layer's own geometry.

public struct RegionPlan: Sendable {
    /// How far (input pixels) an output pixel's receptive field reaches from it, largest over both axes.
    public let radius: Int
    /// The model on a graph whose input height and width are free.
    let plan: InferencePlan

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
        for (i, node) in nodes.enumerated() {
            guard Self.rule(node, nodes) != nil else {
                throw ModelError("layer '\(node.name)' (\(node.typeName)) mixes positions across the image")
            }
            guard Self.jump(i, nodes).isAligned(to: core) else {
                throw ModelError("layer '\(node.name)' has a grid that is not aligned to \(core) input pixels")
            }
        }
        var radius = 0
        for axis in 0..<2 {
            // Every position the whole core needs is needed by one of its pixels, so checking each
            // pixel's cone checks the core's.
            for p in 0..<core {
                guard let needed = try Self.neededInput(graph, axis: axis, from: p...p) else { continue }
                radius = max(radius, p + margin - needed.lowerBound, needed.upperBound - p - margin)
            }
        }
        self.radius = radius
        let free = try Model(spec: model.spec.withFreeSpatialInput(), weights: Dictionary(uniqueKeysWithValues: model.weights.map { ($0.name, $0.tensor) }))
        plan = InferencePlan(free)
    }

    /// The model on one region [1, 16k + 20, 16l + 20, c] on the calling thread: [1, 16k, 16l, ...].
    public func predict(_ region: Tensor) throws -> Tensor { try plan.run(region) }

    // MARK: analysis

    /// (axis, needed output interval, input size) -> the needed input interval, nil when those
    /// outputs read no input (a transposed convolution whose kernel is narrower than its stride).
    private typealias Rule = (Int, ClosedRange<Int>, Int) -> ClosedRange<Int>?

    /// How a layer maps a needed interval of its output, along one axis, to each input's needed
    /// interval; nil for layers that mix positions (Flatten, global pooling, ...).
    private static func rule(_ node: ModelGraph.Node, _ nodes: [ModelGraph.Node]) -> Rule? {
        func window(_ k: (Int, Int), _ s: (Int, Int), _ padding: Padding) -> Rule {
            { axis, r, size in
                let (k, s) = axis == 0 ? (k.0, s.0) : (k.1, s.1)
                let before = padding.before(size, kernel: k, stride: s)
                return (r.lowerBound * s - before)...(r.upperBound * s - before + k - 1)
            }
        }
        switch node.layer {
        case is InputLayer: return { _, r, _ in r }
        case let conv as Conv2D: return window(conv.kernel, conv.strides, conv.padding)
        case let pool as any Pooling2D: return window(pool.pool, pool.strides, pool.padding)
        case let conv as Conv2DTranspose:
            return { axis, r, _ in
                let (k, s) = axis == 0 ? (conv.kernel.0, conv.strides.0) : (conv.kernel.1, conv.strides.1)
                let crop = conv.cropStart(kernel: k, stride: s)
                let first = floorDivide(r.lowerBound + crop - k + 1 + s - 1, s), last = floorDivide(r.upperBound + crop, s)
                return first <= last ? first...last : nil
            }
        case let up as UpSampling2D:
            return up.bilinear ? nil : { axis, r, _ in
                let u = axis == 0 ? up.size.0 : up.size.1
                return floorDivide(r.lowerBound, u)...floorDivide(r.upperBound, u)
            }
        case let crop as Cropping2D: return { axis, r, _ in let c = axis == 0 ? crop.top : crop.left; return (r.lowerBound + c)...(r.upperBound + c) }
        case let pad as ZeroPadding2D: return { axis, r, _ in let p = axis == 0 ? pad.top : pad.left; return (r.lowerBound - p)...(r.upperBound - p) }
        case let concatenate as Concatenate: return concatenate.axis == -1 || concatenate.axis == 3 ? { _, r, _ in r } : nil
        case is Dense: return node.inputDims.first?.count == 3 ? { _, r, _ in r } : nil
        case is Flatten, is Reshape, is GlobalMaxPooling2D, is GlobalAveragePooling2D: return nil
        default: return { _, r, _ in r } // per-pixel: activations, BatchNormalization, Dropout, merges, colour spaces
        }
    }

    /// Input pixels per pixel of node `i` (a power of two, or its inverse after upsampling).
    private static func jump(_ i: Int, _ nodes: [ModelGraph.Node]) -> Jump {
        let node = nodes[i]
        guard let first = node.inputs.first else { return Jump(numerator: 1, denominator: 1) }
        var j = jump(first, nodes)
        switch node.layer {
        case let conv as Conv2D: j = j.times(conv.strides.0, conv.strides.1)
        case let pool as any Pooling2D: j = j.times(pool.strides.0, pool.strides.1)
        case let conv as Conv2DTranspose: j = j.divided(conv.strides.0, conv.strides.1)
        case let up as UpSampling2D: j = j.divided(up.size.0, up.size.1)
        default: break
        }
        return j
    }

    /// Propagates a needed output interval back to the model input along `axis`, refusing when
    /// some layer would need a position outside its input (padding the tile has and a region
    /// does not, or the other way round); nil when the output reads no input at all.
    private static func neededInput(_ graph: ModelGraph, axis: Int, from output: ClosedRange<Int>) throws -> ClosedRange<Int>? {
        let nodes = graph.nodes
        var needed = [ClosedRange<Int>?](repeating: nil, count: nodes.count)
        needed[graph.outputNodes[0]] = output
        for i in nodes.indices.reversed() {
            guard let r = needed[i], !nodes[i].isInput, let rule = rule(nodes[i], nodes) else { continue }
            for (k, j) in nodes[i].inputs.enumerated() {
                let size = nodes[i].inputDims[k][axis]!
                guard let want = rule(axis, r, size) else { continue }
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

    func times(_ a: Int, _ b: Int) -> Jump { Jump(numerator: numerator * a, denominator: denominator, valid: valid && a == b) }
    func divided(_ a: Int, _ b: Int) -> Jump { Jump(numerator: numerator, denominator: denominator * a, valid: valid && a == b) }

    /// A shift of `core` input pixels is a whole number of this node's pixels.
    func isAligned(to core: Int) -> Bool { valid && (core * denominator) % numerator == 0 }
}

func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
