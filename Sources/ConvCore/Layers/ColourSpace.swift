// Colour-space layers on the last axis (values in [0, 1]): RGB <-> HSV (the formulas of
// keras.ops.image, hue in [0, 1)), RGB <-> YCbCr (JPEG/BT.601 full range, chroma centred on 0.5)
// and RGB -> luminance Y. No parameters.

/// A number the colour formulas can run on: Float for the forward pass, Dual3 for the backward.
protocol ColourValue {
    init(_ constant: Float)
    var value: Float { get }
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func / (a: Self, b: Self) -> Self
}

extension Float: ColourValue {
    var value: Float { self }
}

/// A value with its derivatives with respect to a pixel's three input channels: running one
/// formula on it gives the conversion and its Jacobian together.
struct Dual3: ColourValue {
    var value: Float
    var derivative: SIMD3<Float>

    init(_ constant: Float) { (value, derivative) = (constant, .zero) }
    init(_ value: Float, channel: Int) {
        self.value = value
        derivative = .zero
        derivative[channel] = 1
    }
    private init(_ value: Float, _ derivative: SIMD3<Float>) { (self.value, self.derivative) = (value, derivative) }

    static func + (a: Dual3, b: Dual3) -> Dual3 { Dual3(a.value + b.value, a.derivative + b.derivative) }
    static func - (a: Dual3, b: Dual3) -> Dual3 { Dual3(a.value - b.value, a.derivative - b.derivative) }
    static func * (a: Dual3, b: Dual3) -> Dual3 { Dual3(a.value * b.value, a.derivative * b.value + b.derivative * a.value) }
    static func / (a: Dual3, b: Dual3) -> Dual3 {
        Dual3(a.value / b.value, (a.derivative * b.value - b.derivative * a.value) / (b.value * b.value))
    }
}

/// Piecewise helpers choose their branch by value, as the forward pass does.
func largest<T: ColourValue>(_ a: T, _ b: T, _ c: T) -> T {
    let ab = a.value >= b.value ? a : b
    return ab.value >= c.value ? ab : c
}

func smallest<T: ColourValue>(_ a: T, _ b: T, _ c: T) -> T {
    let ab = a.value <= b.value ? a : b
    return ab.value <= c.value ? ab : c
}

func magnitude<T: ColourValue>(_ a: T) -> T { a.value < 0 ? T(0) - a : a }

func clampUnit<T: ColourValue>(_ a: T) -> T { a.value < 0 ? T(0) : a.value > 1 ? T(1) : a }

protocol ColourLayer: PerPixelLayer {
    static var outputChannels: Int { get }
    init(name: String)
    /// Converts one pixel; the first `outputChannels` results are used.
    func convert<T: ColourValue>(_ a: T, _ b: T, _ c: T) -> (T, T, T)
}

extension ColourLayer {
    init(name: String, arguments a: inout LayerArguments) throws { self.init(name: name) }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let d = try single(inputs)
        guard let last = d.last, last == 3 else { throw failure("needs 3 channels last, got \(describe(d))") }
        return d.dropLast() + [Self.outputChannels]
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        convertPixels(inputs[0])
    }

    func convertPixels(_ x: Tensor) -> Tensor {
        let pixels = x.count / 3, k = Self.outputChannels
        var y = Tensor(zeros: x.shape.dropLast() + [k])
        x.scalars.withUnsafeBufferPointer { xp in
            y.scalars.withUnsafeMutableBufferPointer { yp in
                for p in 0..<pixels {
                    let out = convert(xp[3 * p], xp[3 * p + 1], xp[3 * p + 2])
                    yp[k * p] = out.0
                    if k == 3 { yp[k * p + 1] = out.1; yp[k * p + 2] = out.2 }
                }
            }
        }
        return y
    }

    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let x = inputs[0]
        let pixels = x.count / 3, k = Self.outputChannels
        var dx = Tensor(zeros: x.shape)
        for p in 0..<pixels {
            let out = convert(Dual3(x.scalars[3 * p], channel: 0), Dual3(x.scalars[3 * p + 1], channel: 1),
                              Dual3(x.scalars[3 * p + 2], channel: 2))
            var d = out.0.derivative * gradient.scalars[k * p]
            if k == 3 { d += out.1.derivative * gradient.scalars[k * p + 1] + out.2.derivative * gradient.scalars[k * p + 2] }
            for c in 0..<3 { dx.scalars[3 * p + c] = d[c] }
        }
        return LayerGradients(inputs: [dx], parameters: [])
    }
}

/// The colour layers' conversions outside a graph: the Stylizer's colour handling (DESIGN.md §7)
/// uses the very formulas the networks were trained with.
public enum ColourConversion: Sendable {
    case rgbToHSV, hsvToRGB, rgbToYCbCr, yCbCrToRGB, rgbToLuminance

    /// [..., 3] -> [..., 3], or [..., 1] for luminance.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .rgbToHSV: RGBToHSV(name: "").convertPixels(x)
        case .hsvToRGB: HSVToRGB(name: "").convertPixels(x)
        case .rgbToYCbCr: RGBToYCbCr(name: "").convertPixels(x)
        case .yCbCrToRGB: YCbCrToRGB(name: "").convertPixels(x)
        case .rgbToLuminance: RGBToLuminance(name: "").convertPixels(x)
        }
    }

    /// BT.601 luminance of one RGB pixel (the first row of the YCbCr matrix; DESIGN.md §7).
    public static func luminance(_ r: Float, _ g: Float, _ b: Float) -> Float {
        RGBToLuminance(name: "").convert(r, g, b).0
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

    func convert<T: ColourValue>(_ r: T, _ g: T, _ b: T) -> (T, T, T) {
        let m = YCbCr.forwardFloat
        func row(_ i: Int) -> T { T(m[i][0]) * r + T(m[i][1]) * g + T(m[i][2]) * b }
        return (row(0), T(0.5) + row(1), T(0.5) + row(2))
    }
}

struct YCbCrToRGB: ColourLayer {
    static let typeName = "YCbCrToRGB"
    static let outputChannels = 3
    let name: String

    func convert<T: ColourValue>(_ y: T, _ cb: T, _ cr: T) -> (T, T, T) {
        let m = YCbCr.inverse, u = cb - T(0.5), v = cr - T(0.5)
        func row(_ i: Int) -> T { T(m[i][0]) * y + T(m[i][1]) * u + T(m[i][2]) * v }
        return (row(0), row(1), row(2))
    }
}

struct RGBToLuminance: ColourLayer {
    static let typeName = "RGBToLuminance"
    static let outputChannels = 1
    let name: String

    func convert<T: ColourValue>(_ r: T, _ g: T, _ b: T) -> (T, T, T) {
        let m = YCbCr.forwardFloat
        let y = T(m[0][0]) * r + T(m[0][1]) * g + T(m[0][2]) * b
        return (y, y, y)
    }
}

struct RGBToHSV: ColourLayer {
    static let typeName = "RGBToHSV"
    static let outputChannels = 3
    let name: String

    func convert<T: ColourValue>(_ r0: T, _ g0: T, _ b0: T) -> (T, T, T) {
        // keras.ops.image flushes values within float epsilon of zero first.
        func flush(_ x: T) -> T { abs(x.value) < Float.ulpOfOne ? T(0) : x }
        let r = flush(r0), g = flush(g0), b = flush(b0)
        let value = largest(r, g, b), range = value - smallest(r, g, b)
        let norm = T(1) / (T(6) * (range.value > 0 ? range : T(1)))
        var hue: T
        if value.value == r.value { hue = norm * (g - b) }
        else if value.value == g.value { hue = norm * (b - r) + T(2.0 / 6.0) }
        else { hue = norm * (r - g) + T(4.0 / 6.0) }
        hue = (range.value > 0 ? hue : T(0)) + T(hue.value < 0 ? 1 : 0)
        return (hue, value.value > 0 ? range / value : T(0), value)
    }
}

struct HSVToRGB: ColourLayer {
    static let typeName = "HSVToRGB"
    static let outputChannels = 3
    let name: String

    func convert<T: ColourValue>(_ h: T, _ s: T, _ v: T) -> (T, T, T) {
        // Hue wraps around: h mod 1, whose derivative is 1.
        let dh = (h - T(h.value.rounded(.down))) * T(6)
        let dr = clampUnit(magnitude(dh - T(3)) - T(1))
        let dg = clampUnit(T(2) - magnitude(dh - T(2)))
        let db = clampUnit(T(2) - magnitude(dh - T(4)))
        let grey = T(1) - s
        return (v * (grey + s * dr), v * (grey + s * dg), v * (grey + s * db))
    }
}
