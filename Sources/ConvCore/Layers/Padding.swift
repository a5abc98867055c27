// TensorFlow/Keras padding rules, shared by convolutions and pooling. 'same' gives ceil(i/s) with
// total padding max((ceil(i/s)-1)*s + k - i, 0), the odd pixel at the bottom/right.

enum Padding: String, Sendable {
    case valid, same

    func outputSize(_ i: Int, kernel k: Int, stride s: Int) -> Int {
        switch self {
        case .valid: return i >= k ? (i - k) / s + 1 : 0
        case .same: return (i + s - 1) / s
        }
    }

    /// Padding before the first pixel (top or left).
    func before(_ i: Int, kernel k: Int, stride s: Int) -> Int {
        switch self {
        case .valid: return 0
        case .same: return max((outputSize(i, kernel: k, stride: s) - 1) * s + k - i, 0) / 2
        }
    }
}

/// Where a sliding kernel (convolution or pooling) reads, for one concrete input size.
struct KernelGeometry {
    let kh, kw, sh, sw: Int
    let inH, inW, outH, outW: Int
    let padTop, padLeft: Int

    init(inH: Int, inW: Int, kernel: (Int, Int), strides: (Int, Int), padding: Padding) {
        (kh, kw) = kernel
        (sh, sw) = strides
        self.inH = inH
        self.inW = inW
        outH = padding.outputSize(inH, kernel: kh, stride: sh)
        outW = padding.outputSize(inW, kernel: kw, stride: sw)
        padTop = padding.before(inH, kernel: kh, stride: sh)
        padLeft = padding.before(inW, kernel: kw, stride: sw)
    }

    /// A window with explicit sizes and padding: the input gradient of a stride-1 convolution
    /// (a 'full' correlation of the output gradient with the flipped kernel), or a window of a
    /// convolution's output computed from a window of its input (negative padding skips input).
    init(inH: Int, inW: Int, outH: Int, outW: Int, kernel: (Int, Int), strides: (Int, Int) = (1, 1), padTop: Int, padLeft: Int) {
        (kh, kw) = kernel
        (sh, sw) = strides
        (self.inH, self.inW, self.outH, self.outW, self.padTop, self.padLeft) = (inH, inW, outH, outW, padTop, padLeft)
    }
}

extension LayerArguments {
    mutating func padding() throws -> Padding {
        Padding(rawValue: try choice("padding", default: "valid", from: ["valid", "same"]))!
    }

    /// A positive int or pair, as kernel sizes and strides must be.
    mutating func positivePair(_ key: String, default d: (Int, Int)? = nil) throws -> (Int, Int) {
        let p = try d.map { try pair(key, default: $0) } ?? pair(key)
        guard p.0 >= 1, p.1 >= 1 else { throw error("'\(key)' must be positive, got [\(p.0), \(p.1)]") }
        return p
    }
}

extension Layer {
    /// The spatial output size of a window layer, refusing windows larger than a valid input.
    func windowOutput(_ i: Int?, kernel k: Int, stride s: Int, padding: Padding, axis: String) throws -> Int? {
        guard let i else { return nil }
        let o = padding.outputSize(i, kernel: k, stride: s)
        guard o >= 1 else { throw failure("input \(axis) \(i) is smaller than the window \(k) with 'valid' padding") }
        return o
    }
}
