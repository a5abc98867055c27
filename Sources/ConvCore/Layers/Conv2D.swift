// Conv2D: NHWC input, kernel [kh, kw, cin, cout] (Keras layout), optional bias, fused activation.
// Output size floor((i + pad - k) / s) + 1 with TensorFlow 'same' padding (see Padding.swift).

struct Conv2D: Layer {
    static let typeName = "Conv2D"
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

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let (h, w, _) = try image(inputs)
        return [try windowOutput(h, kernel: kernel.0, stride: strides.0, padding: padding, axis: "height"),
                try windowOutput(w, kernel: kernel.1, stride: strides.1, padding: padding, axis: "width"),
                filters]
    }

    func parameters(_ inputs: [Dims]) throws -> [ParameterSpec] {
        let cin = try known(try image(inputs).c, "input channel count")
        var p = [ParameterSpec(name: "kernel", shape: [kernel.0, kernel.1, cin, filters],
                               initializer: kernelInitializer, trainable: true)]
        if useBias { p.append(ParameterSpec(name: "bias", shape: [filters], initializer: biasInitializer, trainable: true)) }
        return p
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let (n, h, w, cin) = x.nhwc
        let g = WindowGeometry(inH: h, inW: w, kernel: kernel, strides: strides, padding: padding)
        let cout = filters
        var y = Tensor(zeros: [n, g.outH, g.outW, cout])
        let bias = useBias ? parameters[1].scalars : [Float](repeating: 0, count: cout)
        bias.withUnsafeBufferPointer { bp in
        x.scalars.withUnsafeBufferPointer { xp in
            parameters[0].scalars.withUnsafeBufferPointer { kp in
                y.scalars.withUnsafeMutableBufferPointer { yp in
                    for b in 0..<n {
                        for oy in 0..<g.outH {
                            for ox in 0..<g.outW {
                                let out = yp.baseAddress! + ((b * g.outH + oy) * g.outW + ox) * cout
                                for co in 0..<cout { out[co] = bp[co] }
                                for ky in 0..<g.kh {
                                    let iy = oy * g.sh - g.padTop + ky
                                    if iy < 0 || iy >= h { continue }
                                    for kx in 0..<g.kw {
                                        let ix = ox * g.sw - g.padLeft + kx
                                        if ix < 0 || ix >= w { continue }
                                        let pixel = xp.baseAddress! + ((b * h + iy) * w + ix) * cin
                                        let taps = kp.baseAddress! + (ky * g.kw + kx) * cin * cout
                                        for ci in 0..<cin { axpy(cout, pixel[ci], taps + ci * cout, out) }
                                    }
                                }
                                for co in 0..<cout { out[co] = activation.apply(out[co]) }
                            }
                        }
                    }
                }
            }
        }
        }
        return y
    }

    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let x = inputs[0]
        let (n, h, w, cin) = x.nhwc
        let g = WindowGeometry(inH: h, inW: w, kernel: kernel, strides: strides, padding: padding)
        let cout = filters
        let dz = activation.backward(output: output, gradient: gradient)
        var dx = Tensor(zeros: x.shape), dk = Tensor(zeros: parameters[0].shape), db = Tensor(zeros: [cout])
        // dx[ci] += sum over co of W[ci, co] * dz[co]: with the kernel transposed to [tap, co, ci]
        // the innermost loop runs along ci without a reduction, so it vectorizes.
        let taps = g.kh * g.kw
        var transposed = [Float](repeating: 0, count: parameters[0].count)
        for t in 0..<taps {
            for ci in 0..<cin { for co in 0..<cout { transposed[(t * cout + co) * cin + ci] = parameters[0].scalars[(t * cin + ci) * cout + co] } }
        }
        x.scalars.withUnsafeBufferPointer { xp in
            transposed.withUnsafeBufferPointer { kp in
                dz.scalars.withUnsafeBufferPointer { gp in
                    dx.scalars.withUnsafeMutableBufferPointer { dxp in
                        dk.scalars.withUnsafeMutableBufferPointer { dkp in
                          db.scalars.withUnsafeMutableBufferPointer { dbp in
                            for b in 0..<n {
                                for oy in 0..<g.outH {
                                    for ox in 0..<g.outW {
                                        let go = gp.baseAddress! + ((b * g.outH + oy) * g.outW + ox) * cout
                                        for co in 0..<cout { dbp[co] += go[co] }
                                        for ky in 0..<g.kh {
                                            let iy = oy * g.sh - g.padTop + ky
                                            if iy < 0 || iy >= h { continue }
                                            for kx in 0..<g.kw {
                                                let ix = ox * g.sw - g.padLeft + kx
                                                if ix < 0 || ix >= w { continue }
                                                let pixel = xp.baseAddress! + ((b * h + iy) * w + ix) * cin
                                                let dpixel = dxp.baseAddress! + ((b * h + iy) * w + ix) * cin
                                                let tap = ky * g.kw + kx
                                                let dtap = dkp.baseAddress! + tap * cin * cout
                                                for ci in 0..<cin { axpy(cout, pixel[ci], go, dtap + ci * cout) }
                                                let ttap = kp.baseAddress! + tap * cout * cin
                                                for co in 0..<cout { axpy(cin, go[co], ttap + co * cin, dpixel) }
                                            }
                                        }
                                    }
                                }
                            }
                          }
                        }
                    }
                }
            }
        }
        return LayerGradients(inputs: [dx], parameters: useBias ? [dk, db] : [dk])
    }
}
