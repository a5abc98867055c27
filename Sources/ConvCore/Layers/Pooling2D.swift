// Max and average pooling over windows (pool_size 2, strides = pool_size, 'valid' by default).
// 'same' max pooling pads with -inf; 'same' average pooling divides by the real pixels only.

enum PoolKind: Sendable { case max, average }

protocol Pooling2D: SlidingWindowLayer {
    static var kind: PoolKind { get }
    var pool: (Int, Int) { get }
    var strides: (Int, Int) { get }
    var padding: Padding { get }
    init(name: String, pool: (Int, Int), strides: (Int, Int), padding: Padding)
}

extension Pooling2D {
    init(name: String, arguments a: inout LayerArguments) throws {
        let pool = try a.positivePair("pool_size", default: (2, 2))
        let strides = try a.positivePair("strides", default: pool)
        self.init(name: name, pool: pool, strides: strides, padding: try a.padding())
    }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let (h, w, c) = try image(inputs)
        return [try windowOutput(h, kernel: pool.0, stride: strides.0, padding: padding, axis: "height"),
                try windowOutput(w, kernel: pool.1, stride: strides.1, padding: padding, axis: "width"), c]
    }

    var kernelSize: (Int, Int) { pool }

    /// A pooled window is the 'valid' pooling of exactly the input it reads, when no window
    /// reaches into the padding; one that does is computed whole.
    func windowed(_ output: TileWindow, inputs: [Dims]) -> WindowedForward? {
        inputWindow(output, input: inputs[0], inside: true)
            .map { WindowedForward(inputs: [$0], layer: Self(name: name, pool: pool, strides: strides, padding: .valid)) }
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let (n, h, w, c) = x.nhwc
        let g = KernelGeometry(inH: h, inW: w, kernel: pool, strides: strides, padding: padding)
        var y = Tensor(zeros: [n, g.outH, g.outW, c])
        pool2dForward(out: &y.scalars, x: x.scalars, kind: Self.kind, n: n, c: c, g)
        return y
    }

    /// Max pooling sends each window's gradient to its first largest input; average pooling
    /// spreads it evenly over the window's real pixels.
    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let x = inputs[0]
        let (n, h, w, c) = x.nhwc
        let g = KernelGeometry(inH: h, inW: w, kernel: pool, strides: strides, padding: padding)
        var dx = Tensor(zeros: x.shape)
        pool2dBackward(dx: &dx.scalars, x: x.scalars, dz: gradient.scalars, kind: Self.kind, n: n, c: c, g)
        return LayerGradients(inputs: [dx], parameters: [])
    }
}

/// The input rows and columns output pixel (oy, ox) pools: its window clipped to the real pixels.
private func poolWindow(_ oy: Int, _ ox: Int, _ g: KernelGeometry) -> (rows: Range<Int>, cols: Range<Int>) {
    (max(oy * g.sh - g.padTop, 0)..<min(oy * g.sh - g.padTop + g.kh, g.inH),
     max(ox * g.sw - g.padLeft, 0)..<min(ox * g.sw - g.padLeft + g.kw, g.inW))
}

/// out[b, oy, ox, :] = the max or mean of x[b, window(oy, ox), :]; x [n, inH, inW, c].
private func pool2dForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, kind: PoolKind, n: Int, c: Int, _ g: KernelGeometry) {
    for p in 0..<(n * g.outH * g.outW) {
        let (b, oy, ox) = (p / (g.outH * g.outW), p / g.outW % g.outH, p % g.outW)
        let (rows, cols) = poolWindow(oy, ox, g), o = out + p * c
        // One loop per kind, with no branch inside, so each vectorises over channels.
        if kind == .max {
            o.update(repeating: -.infinity, count: c)
            for iy in rows {
                for ix in cols {
                    let pixel = x + ((b * g.inH + iy) * g.inW + ix) * c
                    for ch in 0..<c { o[ch] = max(o[ch], pixel[ch]) }
                }
            }
        } else {
            o.update(repeating: 0, count: c)
            for iy in rows {
                for ix in cols {
                    let pixel = x + ((b * g.inH + iy) * g.inW + ix) * c
                    for ch in 0..<c { o[ch] += pixel[ch] }
                }
            }
            let scale = 1 / Float(rows.count * cols.count)
            for ch in 0..<c { o[ch] *= scale }
        }
    }
}

/// dx for dz [n, outH, outW, c]: each gradient to its window's first largest input (max) or
/// spread evenly over the window (average). Sixteen channels at a time; the max finds the
/// largest value first, then gives the gradient to the first pixel that holds it.
private func pool2dBackward(dx: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, dz: UnsafePointer<Float>,
                            kind: PoolKind, n: Int, c: Int, _ g: KernelGeometry) {
    for p in 0..<(n * g.outH * g.outW) {
        let (b, oy, ox) = (p / (g.outH * g.outW), p / g.outW % g.outH, p % g.outW)
        let (rows, cols) = poolWindow(oy, ox, g)
        let count = Float(rows.count * cols.count)
        func offset(_ iy: Int, _ ix: Int) -> Int { ((b * g.inH + iy) * g.inW + ix) * c }
        var ch = 0
        while ch + 16 <= c {
            let d = load16(dz + p * c + ch)
            if kind == .max {
                var best = load16(x + offset(rows.lowerBound, cols.lowerBound) + ch)
                for iy in rows {
                    for ix in cols {
                        // A select, not pointwiseMax: that one compiles to a loop over the lanes.
                        let v = load16(x + offset(iy, ix) + ch)
                        best.replace(with: v, where: v .> best)
                    }
                }
                // What is still to give, per lane: the gradient until a pixel holding the maximum took it.
                var left = d
                for iy in rows {
                    for ix in cols {
                        let at = offset(iy, ix) + ch, hit = load16(x + at) .== best
                        store16(load16(dx + at) + SIMD16<Float>.zero.replacing(with: left, where: hit), dx + at)
                        left.replace(with: 0, where: hit)
                    }
                }
            } else {
                let spread = d / SIMD16(repeating: count)
                for iy in rows { for ix in cols { store16(load16(dx + offset(iy, ix) + ch) + spread, dx + offset(iy, ix) + ch) } }
            }
            ch += 16
        }
        for ch in ch..<c {
            let d = dz[p * c + ch]
            if kind == .max {
                var at = offset(rows.lowerBound, cols.lowerBound) + ch
                for iy in rows { for ix in cols where x[offset(iy, ix) + ch] > x[at] { at = offset(iy, ix) + ch } }
                dx[at] += d
            } else {
                for iy in rows { for ix in cols { dx[offset(iy, ix) + ch] += d / count } }
            }
        }
    }
}

struct MaxPooling2D: Pooling2D {
    static let typeName = "MaxPooling2D"
    static let kind = PoolKind.max
    let name: String
    let pool: (Int, Int), strides: (Int, Int)
    let padding: Padding

    init(name: String, pool: (Int, Int), strides: (Int, Int), padding: Padding) {
        (self.name, self.pool, self.strides, self.padding) = (name, pool, strides, padding)
    }
}

struct AveragePooling2D: Pooling2D {
    static let typeName = "AveragePooling2D"
    static let kind = PoolKind.average
    let name: String
    let pool: (Int, Int), strides: (Int, Int)
    let padding: Padding

    init(name: String, pool: (Int, Int), strides: (Int, Int), padding: Padding) {
        (self.name, self.pool, self.strides, self.padding) = (name, pool, strides, padding)
    }
}
