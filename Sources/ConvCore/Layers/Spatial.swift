// Layers that move pixels without weights: Cropping2D, ZeroPadding2D and UpSampling2D.

/// Copies a window of an NHWC batch into a new canvas at an offset; the rest of the canvas is zero.
private func place(_ x: Tensor, into shape: [Int], sourceTop: Int, sourceLeft: Int,
                   rows: Int, cols: Int, destTop: Int, destLeft: Int) -> Tensor {
    let (n, h, w, c) = x.nhwc
    let oh = shape[1], ow = shape[2]
    var y = Tensor(zeros: shape)
    for b in 0..<n {
        for r in 0..<rows {
            let src = ((b * h + sourceTop + r) * w + sourceLeft) * c
            let dst = ((b * oh + destTop + r) * ow + destLeft) * c
            y.scalars.replaceSubrange(dst..<(dst + cols * c), with: x.scalars[src..<(src + cols * c)])
        }
    }
    return y
}

struct Cropping2D: Layer {
    static let typeName = "Cropping2D"
    let name: String
    let top, bottom, left, right: Int

    init(name: String, arguments a: inout LayerArguments) throws {
        self.name = name
        (top, bottom, left, right) = try a.edges("cropping", default: 0)
        guard min(top, bottom, left, right) >= 0 else { throw a.error("'cropping' must not be negative") }
    }

    func reach(_ output: ClosedRange<Int>, axis: Axis, input: Dims) -> Reach {
        let shift = axis == .rows ? top : left
        return .positions((output.lowerBound + shift)...(output.upperBound + shift))
    }

    /// A window of the cropped map is a window of the input, read as it is.
    func windowed(_ output: TileWindow, inputs: [Dims]) -> WindowedForward? {
        WindowedForward(inputs: [TileWindow(rows: (output.rows.lowerBound + top)..<(output.rows.upperBound + top),
                                            cols: (output.cols.lowerBound + left)..<(output.cols.upperBound + left))], layer: nil)
    }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let (h, w, c) = try image(inputs)
        let oh = h.map { $0 - top - bottom }, ow = w.map { $0 - left - right }
        if let oh, oh < 1 { throw failure("cropping \(top)+\(bottom) rows leaves nothing of height \(h!)") }
        if let ow, ow < 1 { throw failure("cropping \(left)+\(right) columns leaves nothing of width \(w!)") }
        return [oh, ow, c]
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let (n, h, w, c) = inputs[0].nhwc
        let oh = h - top - bottom, ow = w - left - right
        return place(inputs[0], into: [n, oh, ow, c], sourceTop: top, sourceLeft: left,
                     rows: oh, cols: ow, destTop: 0, destLeft: 0)
    }

    /// The gradient goes back where the kept pixels came from; cropped pixels get zero.
    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let (_, oh, ow, _) = gradient.nhwc
        return LayerGradients(inputs: [place(gradient, into: inputs[0].shape, sourceTop: 0, sourceLeft: 0,
                                             rows: oh, cols: ow, destTop: top, destLeft: left)], parameters: [])
    }
}

struct ZeroPadding2D: Layer {
    static let typeName = "ZeroPadding2D"
    let name: String
    let top, bottom, left, right: Int

    init(name: String, arguments a: inout LayerArguments) throws {
        self.name = name
        (top, bottom, left, right) = try a.edges("padding", default: 1)
        guard min(top, bottom, left, right) >= 0 else { throw a.error("'padding' must not be negative") }
    }

    /// Padded positions read nothing; the region analysis sees them as reaching past the input.
    func reach(_ output: ClosedRange<Int>, axis: Axis, input: Dims) -> Reach {
        let shift = axis == .rows ? top : left
        return .positions((output.lowerBound - shift)...(output.upperBound - shift))
    }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let (h, w, c) = try image(inputs)
        return [h.map { $0 + top + bottom }, w.map { $0 + left + right }, c]
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let (n, h, w, c) = inputs[0].nhwc
        return place(inputs[0], into: [n, h + top + bottom, w + left + right, c], sourceTop: 0, sourceLeft: 0,
                     rows: h, cols: w, destTop: top, destLeft: left)
    }

    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let (_, h, w, _) = inputs[0].nhwc
        return LayerGradients(inputs: [place(gradient, into: inputs[0].shape, sourceTop: top, sourceLeft: left,
                                             rows: h, cols: w, destTop: 0, destLeft: 0)], parameters: [])
    }
}

/// Nearest repeats each pixel; bilinear samples at half-pixel centres with clamped edges
/// (jax.image.resize, which Keras uses).
struct UpSampling2D: Layer {
    static let typeName = "UpSampling2D"
    let name: String
    let size: (Int, Int)
    let bilinear: Bool

    init(name: String, arguments a: inout LayerArguments) throws {
        self.name = name
        size = try a.positivePair("size", default: (2, 2))
        bilinear = try a.choice("interpolation", default: "nearest", from: ["nearest", "bilinear"]) == "bilinear"
    }

    /// Nearest upsampling repeats pixels; bilinear blends neighbours the tile may not have.
    func reach(_ output: ClosedRange<Int>, axis: Axis, input: Dims) -> Reach {
        guard !bilinear else { return .everything }
        let u = axis == .rows ? size.0 : size.1
        return .positions(floorDivide(output.lowerBound, u)...floorDivide(output.upperBound, u))
    }

    func gridStep(_ axis: Axis) -> GridStep { GridStep(inputPixels: 1, outputPixels: axis == .rows ? size.0 : size.1) }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let (h, w, c) = try image(inputs)
        return [h.map { $0 * size.0 }, w.map { $0 * size.1 }, c]
    }

    /// For each output coordinate: the two source indices and the weight of the second.
    private func taps(_ inSize: Int, scale: Int) -> [(Int, Int, Float)] {
        (0..<(inSize * scale)).map { o in
            guard bilinear else { return (o / scale, o / scale, 0) }
            let s = max((Float(o) + 0.5) / Float(scale) - 0.5, 0)
            let i0 = min(Int(s), inSize - 1)
            return (i0, min(i0 + 1, inSize - 1), s - Float(i0))
        }
    }

    /// Every output pixel with its four source pixels and their weights (products of the row
    /// and column weights; nearest puts all of it on the first): the one sampling rule of both passes.
    @inline(__always)
    private func forEachSample(n: Int, h: Int, w: Int,
                               _ body: (_ output: Int, _ sources: (Int, Int, Int, Int), _ weights: (Float, Float, Float, Float)) -> Void) {
        let oh = h * size.0, ow = w * size.1
        let rows = taps(h, scale: size.0), cols = taps(w, scale: size.1)
        for b in 0..<n {
            for oy in 0..<oh {
                let (y0, y1, fy) = rows[oy]
                for ox in 0..<ow {
                    let (x0, x1, fx) = cols[ox]
                    body((b * oh + oy) * ow + ox,
                         ((b * h + y0) * w + x0, (b * h + y0) * w + x1, (b * h + y1) * w + x0, (b * h + y1) * w + x1),
                         ((1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx))
                }
            }
        }
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let (n, h, w, c) = x.nhwc
        var y = Tensor(zeros: [n, h * size.0, w * size.1, c])
        forEachSample(n: n, h: h, w: w) { o, p, k in
            for ch in 0..<c {
                y.scalars[o * c + ch] = k.0 * x.scalars[p.0 * c + ch] + k.1 * x.scalars[p.1 * c + ch]
                    + k.2 * x.scalars[p.2 * c + ch] + k.3 * x.scalars[p.3 * c + ch]
            }
        }
        return y
    }

    /// Each output pixel's gradient flows back to its (up to four) source pixels by their weights.
    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let (n, h, w, c) = inputs[0].nhwc
        var dx = Tensor(zeros: inputs[0].shape)
        forEachSample(n: n, h: h, w: w) { o, p, k in
            func spread(_ source: Int, _ weight: Float) {
                guard weight != 0 else { return }
                for ch in 0..<c { dx.scalars[source * c + ch] += gradient.scalars[o * c + ch] * weight }
            }
            spread(p.0, k.0); spread(p.1, k.1); spread(p.2, k.2); spread(p.3, k.3)
        }
        return LayerGradients(inputs: [dx], parameters: [])
    }
}
