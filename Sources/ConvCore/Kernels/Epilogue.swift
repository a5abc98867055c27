// What a convolution kernel does to its sums while they are still in registers: add the bias
// (the kernels start from it), apply the activation, then an optional per-channel affine (a
// BatchNormalization after an activated convolution, which cannot be folded into the weights).

struct Epilogue: Sendable {
    var activation: Activation = .linear
    /// y = activation(x) * scale + shift per channel, when set.
    var affine: (scale: [Float], shift: [Float])?

    /// The epilogue for one run over `channels` channels, its affine as one vector per 16 channels.
    func prepared(channels: Int) -> PreparedEpilogue {
        func vectors(_ values: [Float]) -> [SIMD16<Float>] {
            stride(from: 0, to: channels, by: 16).map { c0 in SIMD16((0..<16).map { c0 + $0 < channels ? values[c0 + $0] : 0 }) }
        }
        return PreparedEpilogue(activation: activation, scale: affine.map { vectors($0.scale) }, shift: affine.map { vectors($0.shift) })
    }
}

extension Epilogue {
    /// For an output narrower than a vector: this epilogue without its curve (sigmoid, tanh,
    /// softplus), and the curve, to run afterwards over the whole map (`applyCurve`). Per pixel, a
    /// curve costs a whole vector of e^x for the three channels of an RGB output.
    private func deferringCurve(channels: Int) -> (kernel: Epilogue, after: Activation?) {
        guard channels < 16, affine == nil else { return (self, nil) }
        switch activation {
        case .sigmoid, .tanh, .softplus: return (Epilogue(activation: .linear), activation)
        case .linear, .relu, .leakyReLU: return (self, nil)
        }
    }

    /// `run` (a kernel over the map) with this epilogue, a narrow output's curve deferred to after it.
    func running(channels: Int, _ run: (Epilogue) -> Tensor) -> Tensor {
        let (inKernel, curve) = deferringCurve(channels: channels)
        var y = run(inKernel)
        if let curve { applyCurve(curve, to: &y) }
        return y
    }
}

/// x = activation(x) for every value of x, sixteen at a time through the same vector e^x the
/// epilogue uses (so the result is the same as applying it there).
func applyCurve(_ activation: Activation, to x: inout Tensor) {
    x.scalars.withUnsafeMutableBufferPointer { values in
        let p = values.baseAddress!, n = values.count
        var i = 0
        while i + 16 <= n {
            store16(PreparedEpilogue.curve(load16(p + i), activation), p + i)
            i += 16
        }
        guard i < n else { return }
        var rest = SIMD16<Float>.zero
        for l in 0..<(n - i) { rest[l] = p[i + l] }
        rest = PreparedEpilogue.curve(rest, activation)
        for l in 0..<(n - i) { p[i + l] = rest[l] }
    }
}

struct PreparedEpilogue {
    let activation: Activation
    let scale: [SIMD16<Float>]?, shift: [SIMD16<Float>]?

    /// Finishes the sums of channels group * 16 ..< group * 16 + lanes and stores them at `out`.
    @inline(__always)
    func store(_ sums: SIMD16<Float>, group: Int, lanes: Int, to out: UnsafeMutablePointer<Float>) {
        var v = sums
        switch activation {
        case .linear: break
        case .relu: v.replace(with: 0, where: v .< 0)
        case .leakyReLU: v.replace(with: v * SIMD16(repeating: Activation.leakySlope), where: v .< 0)
        case .sigmoid, .tanh, .softplus: v = Self.curve(v, activation)
        }
        if let scale, let shift { v = v * scale[group] + shift[group] }
        if lanes == 16 {
            UnsafeMutableRawPointer(out).storeBytes(of: v, as: SIMD16<Float>.self)
        } else {
            for l in 0..<lanes { out[l] = v[l] }
        }
    }

    /// The activations that need e^x, out of line: inlined, they made `store` too large to be
    /// inlined into the kernels, and the call then cost more than a small layer's arithmetic.
    @inline(never)
    static func curve(_ v: SIMD16<Float>, _ activation: Activation) -> SIMD16<Float> {
        switch activation {
        case .sigmoid: return 1 / (1 + exp16(-v))
        case .tanh: return 1 - 2 / (exp16(v + v) + 1)
        default:
            var y = v
            for l in 0..<16 { y[l] = activation.apply(v[l]) }
            return y
        }
    }
}
