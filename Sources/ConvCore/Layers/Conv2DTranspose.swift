// Conv2DTranspose: each input pixel scatters kernel[ky, kx, :, :] (Keras layout [kh, kw, cout, cin])
// times its channels onto output (iy*s + ky, ix*s + kx) of the full (i-1)*s + k grid, which is then
// cropped as Keras does: 'valid' keeps (i-1)*s + max(k, s), 'same' keeps i*s starting at
// k-1-min(ceil((s+k-2)/2), k-1).

struct Conv2DTranspose: Layer {
    static let typeName = "Conv2DTranspose"
    let name: String
    let filters: Int
    let kernel: (Int, Int)
    let strides: (Int, Int)
    let padding: Padding
    let activation: Activation
    let useBias: Bool
    let kernelInitializer: Initializer
    let biasInitializer: Initializer

    init(name: String, arguments a: inout LayerArguments) throws {
        self.name = name
        filters = try a.int("filters")
        guard filters >= 1 else { throw a.error("'filters' must be positive") }
        kernel = try a.positivePair("kernel_size")
        strides = try a.positivePair("strides", default: (1, 1))
        padding = try a.padding()
        activation = try a.activation()
        useBias = try a.bool("use_bias", default: true)
        kernelInitializer = try a.initializer("kernel_initializer", default: .glorotUniform)
        biasInitializer = try a.initializer("bias_initializer", default: .zeros)
    }

    func outputSize(_ i: Int, kernel k: Int, stride s: Int) -> Int {
        padding == .valid ? (i - 1) * s + max(k, s) : i * s
    }

    /// How many leading pixels of the full scatter grid the output drops.
    func cropStart(kernel k: Int, stride s: Int) -> Int {
        padding == .valid ? 0 : k - 1 - min((s + k - 1) / 2, k - 1)
    }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let (h, w, _) = try image(inputs)
        return [h.map { outputSize($0, kernel: kernel.0, stride: strides.0) },
                w.map { outputSize($0, kernel: kernel.1, stride: strides.1) }, filters]
    }

    func parameters(_ inputs: [Dims]) throws -> [ParameterSpec] {
        let cin = try known(try image(inputs).c, "input channel count")
        var p = [ParameterSpec(name: "kernel", shape: [kernel.0, kernel.1, filters, cin],
                               initializer: kernelInitializer, trainable: true)]
        if useBias { p.append(ParameterSpec(name: "bias", shape: [filters], initializer: biasInitializer, trainable: true)) }
        return p
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let (n, h, w, cin) = x.nhwc
        let (kh, kw) = kernel, (sh, sw) = strides, cout = filters
        let oh = outputSize(h, kernel: kh, stride: sh), ow = outputSize(w, kernel: kw, stride: sw)
        // out[co] += sum over ci of W[co, ci] * x[ci], sixteen output channels at a time held in
        // registers over the input channels: the kernel is packed as [tap, ci, co] with co rounded
        // up to 16, and the sums land in an output buffer just as wide.
        let coutPadded = (cout + 15) / 16 * 16, taps = kh * kw
        var packed = [Float](repeating: 0, count: taps * cin * coutPadded)
        for tap in 0..<taps {
            for co in 0..<cout {
                for ci in 0..<cin { packed[(tap * cin + ci) * coutPadded + co] = parameters[0].scalars[(tap * cout + co) * cin + ci] }
            }
        }
        var sums = [Float](repeating: 0, count: n * oh * ow * coutPadded)
        x.scalars.withUnsafeBufferPointer { xp in
            packed.withUnsafeBufferPointer { kp in
                sums.withUnsafeMutableBufferPointer { sp in
                    forEachScatter(n: n, h: h, w: w, oh: oh, ow: ow) { input, output, tap in
                        let pixel = xp.baseAddress! + input * cin, out = sp.baseAddress! + output * coutPadded
                        for co0 in stride(from: 0, to: coutPadded, by: 16) {
                            // Four chains, so the FMAs do not wait on each other's latency.
                            var a0 = load16(out + co0), a1 = SIMD16<Float>.zero, a2 = a1, a3 = a1
                            var weight = kp.baseAddress! + tap * cin * coutPadded + co0
                            var ci = 0
                            while ci + 4 <= cin {
                                a0 = a0.addingProduct(SIMD16(repeating: pixel[ci]), load16(weight))
                                a1 = a1.addingProduct(SIMD16(repeating: pixel[ci + 1]), load16(weight + coutPadded))
                                a2 = a2.addingProduct(SIMD16(repeating: pixel[ci + 2]), load16(weight + 2 * coutPadded))
                                a3 = a3.addingProduct(SIMD16(repeating: pixel[ci + 3]), load16(weight + 3 * coutPadded))
                                weight += 4 * coutPadded
                                ci += 4
                            }
                            while ci < cin {
                                a0 = a0.addingProduct(SIMD16(repeating: pixel[ci]), load16(weight))
                                weight += coutPadded
                                ci += 1
                            }
                            UnsafeMutableRawPointer(out + co0).storeBytes(of: (a0 + a1) + (a2 + a3), as: SIMD16<Float>.self)
                        }
                    }
                }
            }
        }
        let bias = useBias ? parameters[1].scalars : [Float](repeating: 0, count: cout)
        var y = Tensor(zeros: [n, oh, ow, cout])
        for p in 0..<(n * oh * ow) {
            for co in 0..<cout { y.scalars[p * cout + co] = activation.apply(sums[p * coutPadded + co] + bias[co]) }
        }
        return y
    }

    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let x = inputs[0]
        let (n, h, w, cin) = x.nhwc
        let cout = filters
        let oh = output.shape[1], ow = output.shape[2]
        let dz = activation.backward(output: output, gradient: gradient)
        var dx = Tensor(zeros: x.shape), dk = Tensor(zeros: parameters[0].shape)
        let db = biasGradient(dz)
        x.scalars.withUnsafeBufferPointer { xp in
            parameters[0].scalars.withUnsafeBufferPointer { kp in
                dz.scalars.withUnsafeBufferPointer { gp in
                    dx.scalars.withUnsafeMutableBufferPointer { dxp in
                        dk.scalars.withUnsafeMutableBufferPointer { dkp in
                            forEachScatter(n: n, h: h, w: w, oh: oh, ow: ow) { input, output, tap in
                                let offset = input * cin, go = output * cout, taps = tap * cout * cin
                                for co in 0..<cout {
                                    let d = gp[go + co], row = taps + co * cin
                                    axpy(cin, d, kp.baseAddress! + row, dxp.baseAddress! + offset)
                                    axpy(cin, d, xp.baseAddress! + offset, dkp.baseAddress! + row)
                                }
                            }
                        }
                    }
                }
            }
        }
        return LayerGradients(inputs: [dx], parameters: useBias ? [dk, db] : [dk])
    }

    /// Visits every (input pixel, kernel tap) pair whose scatter target lies inside the cropped
    /// output, giving the input and output pixel indices and the tap index: the one geometry of
    /// both passes.
    @inline(__always)
    private func forEachScatter(n: Int, h: Int, w: Int, oh: Int, ow: Int,
                                _ body: (_ input: Int, _ output: Int, _ tap: Int) -> Void) {
        let (kh, kw) = kernel, (sh, sw) = strides
        let top = cropStart(kernel: kh, stride: sh), left = cropStart(kernel: kw, stride: sw)
        for b in 0..<n {
            for iy in 0..<h {
                for ix in 0..<w {
                    for ky in 0..<kh {
                        let oy = iy * sh + ky - top
                        if oy < 0 || oy >= oh { continue }
                        for kx in 0..<kw {
                            let ox = ix * sw + kx - left
                            if ox < 0 || ox >= ow { continue }
                            body((b * h + iy) * w + ix, (b * oh + oy) * ow + ox, ky * kw + kx)
                        }
                    }
                }
            }
        }
    }
}
