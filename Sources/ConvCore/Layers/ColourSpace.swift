// Colour-space layers on the last axis (values in [0, 1]): RGB <-> HSV (the formulas of
// keras.ops.image, hue in [0, 1)), RGB <-> YCbCr (JPEG/BT.601 full range, chroma centred on 0.5)
// and RGB -> luminance Y. No parameters.

protocol ColourLayer: Layer {
    static var outputChannels: Int { get }
    init(name: String)
    /// Converts one pixel; writes `outputChannels` values.
    func convert(_ a: Float, _ b: Float, _ c: Float, into out: UnsafeMutablePointer<Float>)
}

extension ColourLayer {
    init(name: String, arguments a: inout LayerArguments) throws { self.init(name: name) }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let d = try single(inputs)
        guard let last = d.last, last == 3 else { throw failure("needs 3 channels last, got \(describe(d))") }
        return d.dropLast() + [Self.outputChannels]
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let pixels = x.count / 3, k = Self.outputChannels
        var y = Tensor(zeros: x.shape.dropLast() + [k])
        x.scalars.withUnsafeBufferPointer { xp in
            y.scalars.withUnsafeMutableBufferPointer { yp in
                for p in 0..<pixels {
                    convert(xp[3 * p], xp[3 * p + 1], xp[3 * p + 2], into: yp.baseAddress! + k * p)
                }
            }
        }
        return y
    }
}

/// JPEG full-range YCbCr: the forward matrix of DESIGN.md §7 and its exact inverse, so a round
/// trip is the identity to float precision (rounded textbook inverse constants are not).
enum YCbCr {
    static let forward: [[Double]] = [
        [0.299, 0.587, 0.114],
        [-0.168736, -0.331264, 0.5],
        [0.5, -0.418688, -0.081312],
    ]
    static let inverse: [[Float]] = {
        let m = forward
        let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        return (0..<3).map { i in
            (0..<3).map { j in
                // inverse[i][j] = cofactor(j, i) / det
                let r = [0, 1, 2].filter { $0 != j }, c = [0, 1, 2].filter { $0 != i }
                let minor = m[r[0]][c[0]] * m[r[1]][c[1]] - m[r[0]][c[1]] * m[r[1]][c[0]]
                return Float(((i + j) % 2 == 0 ? minor : -minor) / det)
            }
        }
    }()
    static let forwardFloat: [[Float]] = forward.map { $0.map(Float.init) }
}

struct RGBToYCbCr: ColourLayer {
    static let typeName = "RGBToYCbCr"
    static let outputChannels = 3
    let name: String

    func convert(_ r: Float, _ g: Float, _ b: Float, into out: UnsafeMutablePointer<Float>) {
        let m = YCbCr.forwardFloat
        out[0] = m[0][0] * r + m[0][1] * g + m[0][2] * b
        out[1] = 0.5 + m[1][0] * r + m[1][1] * g + m[1][2] * b
        out[2] = 0.5 + m[2][0] * r + m[2][1] * g + m[2][2] * b
    }
}

struct YCbCrToRGB: ColourLayer {
    static let typeName = "YCbCrToRGB"
    static let outputChannels = 3
    let name: String

    func convert(_ y: Float, _ cb: Float, _ cr: Float, into out: UnsafeMutablePointer<Float>) {
        let m = YCbCr.inverse, u = cb - 0.5, v = cr - 0.5
        for i in 0..<3 { out[i] = m[i][0] * y + m[i][1] * u + m[i][2] * v }
    }
}

struct RGBToLuminance: ColourLayer {
    static let typeName = "RGBToLuminance"
    static let outputChannels = 1
    let name: String

    func convert(_ r: Float, _ g: Float, _ b: Float, into out: UnsafeMutablePointer<Float>) {
        let m = YCbCr.forwardFloat
        out[0] = m[0][0] * r + m[0][1] * g + m[0][2] * b
    }
}

struct RGBToHSV: ColourLayer {
    static let typeName = "RGBToHSV"
    static let outputChannels = 3
    let name: String

    func convert(_ r0: Float, _ g0: Float, _ b0: Float, into out: UnsafeMutablePointer<Float>) {
        // keras.ops.image flushes values within float epsilon of zero first.
        let eps = Float.ulpOfOne
        let r = abs(r0) < eps ? 0 : r0, g = abs(g0) < eps ? 0 : g0, b = abs(b0) < eps ? 0 : b0
        let value = max(r, g, b), range = value - min(r, g, b)
        let norm = 1 / (6 * (range > 0 ? range : 1))
        var hue: Float
        if value == r { hue = norm * (g - b) }
        else if value == g { hue = norm * (b - r) + 2.0 / 6.0 }
        else { hue = norm * (r - g) + 4.0 / 6.0 }
        hue = (range > 0 ? hue : 0) + (hue < 0 ? 1 : 0)
        out[0] = hue
        out[1] = value > 0 ? range / value : 0
        out[2] = value
    }
}

struct HSVToRGB: ColourLayer {
    static let typeName = "HSVToRGB"
    static let outputChannels = 3
    let name: String

    func convert(_ h: Float, _ s: Float, _ v: Float, into out: UnsafeMutablePointer<Float>) {
        var wrapped = h.truncatingRemainder(dividingBy: 1)
        if wrapped < 0 { wrapped += 1 }
        let dh = wrapped * 6
        func clamp(_ x: Float) -> Float { min(max(x, 0), 1) }
        let dr = clamp(abs(dh - 3) - 1), dg = clamp(2 - abs(dh - 2)), db = clamp(2 - abs(dh - 4))
        out[0] = v * (1 - s + s * dr)
        out[1] = v * (1 - s + s * dg)
        out[2] = v * (1 - s + s * db)
    }
}
