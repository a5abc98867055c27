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
        let g = WindowGeometry(inH: h, inW: w, kernel: pool, strides: strides, padding: padding)
        var y = Tensor(zeros: [n, g.outH, g.outW, c])
        let kind = Self.kind
        x.scalars.withUnsafeBufferPointer { xp in
            y.scalars.withUnsafeMutableBufferPointer { yp in
                for b in 0..<n {
                    for oy in 0..<g.outH {
                        let y0 = max(oy * g.sh - g.padTop, 0), y1 = min(oy * g.sh - g.padTop + g.kh, h)
                        for ox in 0..<g.outW {
                            let x0 = max(ox * g.sw - g.padLeft, 0), x1 = min(ox * g.sw - g.padLeft + g.kw, w)
                            let out = yp.baseAddress! + ((b * g.outH + oy) * g.outW + ox) * c
                            // One loop per kind, with no branch inside, so each vectorises over channels.
                            if kind == .max {
                                out.update(repeating: -.infinity, count: c)
                                for iy in y0..<y1 {
                                    for ix in x0..<x1 {
                                        let pixel = xp.baseAddress! + ((b * h + iy) * w + ix) * c
                                        for ch in 0..<c { out[ch] = max(out[ch], pixel[ch]) }
                                    }
                                }
                            } else {
                                out.update(repeating: 0, count: c)
                                for iy in y0..<y1 {
                                    for ix in x0..<x1 {
                                        let pixel = xp.baseAddress! + ((b * h + iy) * w + ix) * c
                                        for ch in 0..<c { out[ch] += pixel[ch] }
                                    }
                                }
                                let scale = 1 / Float((y1 - y0) * (x1 - x0))
                                for ch in 0..<c { out[ch] *= scale }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    /// Max pooling sends each window's gradient to its first largest input; average pooling
    /// spreads it evenly over the window's real pixels.
    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let x = inputs[0]
        let (n, h, w, c) = x.nhwc
        let g = WindowGeometry(inH: h, inW: w, kernel: pool, strides: strides, padding: padding)
        var dx = Tensor(zeros: x.shape)
        for b in 0..<n {
            for oy in 0..<g.outH {
                let y0 = max(oy * g.sh - g.padTop, 0), y1 = min(oy * g.sh - g.padTop + g.kh, h)
                for ox in 0..<g.outW {
                    let x0 = max(ox * g.sw - g.padLeft, 0), x1 = min(ox * g.sw - g.padLeft + g.kw, w)
                    let o = ((b * g.outH + oy) * g.outW + ox) * c
                    for ch in 0..<c {
                        let d = gradient.scalars[o + ch]
                        if Self.kind == .max {
                            var best = -Float.infinity, at = -1
                            for iy in y0..<y1 {
                                for ix in x0..<x1 {
                                    let i = ((b * h + iy) * w + ix) * c + ch
                                    if x.scalars[i] > best || at < 0 { best = x.scalars[i]; at = i }
                                }
                            }
                            dx.scalars[at] += d
                        } else {
                            let share = d / Float((y1 - y0) * (x1 - x0))
                            for iy in y0..<y1 { for ix in x0..<x1 { dx.scalars[((b * h + iy) * w + ix) * c + ch] += share } }
                        }
                    }
                }
            }
        }
        return LayerGradients(inputs: [dx], parameters: [])
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
