// The backward kernels of the convolutions: weight gradients (tap by tap a small matrix product
// summed over every output pixel), input gradients (the forward kernel on the flipped kernel for
// stride 1, a scatter through the taps otherwise), the transposed convolution's scatter run
// backwards, and the bias gradient.

/// The bias gradient: the output gradient summed over every position but the last axis.
func biasGradient(_ dz: Tensor) -> Tensor {
    let c = dz.shape.last!
    var db = [Float](repeating: 0, count: c)
    db.withUnsafeMutableBufferPointer { db in
        dz.scalars.withUnsafeBufferPointer { dz in
            for p in 0..<(dz.count / max(c, 1)) { axpy(c, 1, dz.baseAddress! + p * c, db.baseAddress!) }
        }
    }
    return Tensor(shape: [c], scalars: db)
}

// MARK: Conv2D

/// dW[ky, kx, ci, co] = sum over output pixels (b, oy, ox) of x[b, oy * sh + ky - padTop, ox * sw + kx - padLeft, ci] * dz[b, oy, ox, co].
func conv2dWeightGradient(_ x: Tensor, _ dz: Tensor, geometry g: KernelGeometry) -> Tensor {
    let cin = x.shape[3], cout = dz.shape[3]
    let hp = (g.outH - 1) * g.sh + g.kh, wp = (g.outW - 1) * g.sw + g.kw
    // Eight floats of slack: the last pixel's channel block may read up to seven past its end.
    let padded = zeroPadded(x, height: hp, width: wp, top: g.padTop, left: g.padLeft, slack: 8)
    let coutPadded = (cout + 15) / 16 * 16
    // dz with its channels padded to 16 lanes, so every vector load is whole.
    let rows = x.shape[0] * g.outH
    var gradients = [Float](repeating: 0, count: rows * g.outW * coutPadded)
    for p in 0..<(rows * g.outW) {
        for co in 0..<cout { gradients[p * coutPadded + co] = dz.scalars[p * cout + co] }
    }
    var dw = Tensor(zeros: [g.kh, g.kw, cin, cout])
    for tap in 0..<(g.kh * g.kw) {
        let (ky, kx) = (tap / g.kw, tap % g.kw)
        weightGradientTap(dw: &dw.scalars, tap: tap, padded: padded, firstInput: ky * wp * cin + kx * cin, gradients: gradients,
                          rows: rows, outH: g.outH, outW: g.outW, inputRowStep: g.sh * wp * cin, inputImageStep: hp * wp * cin,
                          pixelStep: g.sw * cin, cin: cin, cout: cout, coutPadded: coutPadded)
    }
    return dw
}

/// One tap's dW[tap, ci, co] = sum over output pixels of padded[origin(pixel) + ci] * gradients[pixel, co],
/// where the output pixel (b, oy, ox) reads the padded input at firstInput + b * inputImageStep +
/// oy * inputRowStep + ox * pixelStep. Eight input channels by sixteen output channels stay in
/// eight SIMD16 accumulators over the pixels.
private func weightGradientTap(dw: UnsafeMutablePointer<Float>, tap: Int, padded: UnsafePointer<Float>, firstInput: Int,
                               gradients: UnsafePointer<Float>, rows: Int, outH: Int, outW: Int,
                               inputRowStep: Int, inputImageStep: Int, pixelStep: Int, cin: Int, cout: Int, coutPadded: Int) {
    for ci0 in stride(from: 0, to: cin, by: 8) {
        for co0 in stride(from: 0, to: coutPadded, by: 16) {
            var a0 = SIMD16<Float>.zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
            for row in 0..<rows {
                var input = padded + firstInput + (row / outH) * inputImageStep + (row % outH) * inputRowStep + ci0
                var gradient = gradients + row * outW * coutPadded + co0
                for _ in 0..<outW {
                    let d = load16(gradient)
                    // Channels past cin read the next pixel's values; their rows are never stored.
                    a0 = a0.addingProduct(SIMD16(repeating: input[0]), d)
                    a1 = a1.addingProduct(SIMD16(repeating: input[1]), d)
                    a2 = a2.addingProduct(SIMD16(repeating: input[2]), d)
                    a3 = a3.addingProduct(SIMD16(repeating: input[3]), d)
                    a4 = a4.addingProduct(SIMD16(repeating: input[4]), d)
                    a5 = a5.addingProduct(SIMD16(repeating: input[5]), d)
                    a6 = a6.addingProduct(SIMD16(repeating: input[6]), d)
                    a7 = a7.addingProduct(SIMD16(repeating: input[7]), d)
                    input += pixelStep
                    gradient += coutPadded
                }
            }
            let out = dw + (tap * cin + ci0) * cout + co0, lanes = min(16, cout - co0)
            func store(_ a: SIMD16<Float>, _ r: Int) {
                guard ci0 + r < cin else { return }
                for l in 0..<lanes { out[r * cout + l] = a[l] }
            }
            store(a0, 0); store(a1, 1); store(a2, 2); store(a3, 3); store(a4, 4); store(a5, 5); store(a6, 6); store(a7, 7)
        }
    }
}

/// dx for stride 1: the 'full' correlation of dz with the kernel flipped in space and transposed
/// in channels, which the forward kernel computes.
func conv2dInputGradientStrideOne(_ dz: Tensor, kernel: Tensor, geometry g: KernelGeometry) -> Tensor {
    let (kh, kw, cin, cout) = (g.kh, g.kw, kernel.shape[2], kernel.shape[3])
    var flipped = Tensor(zeros: [kh, kw, cout, cin])
    for tap in 0..<(kh * kw) {
        let mirrored = kh * kw - 1 - tap
        for ci in 0..<cin {
            for co in 0..<cout { flipped.scalars[(mirrored * cout + co) * cin + ci] = kernel.scalars[(tap * cin + ci) * cout + co] }
        }
    }
    let full = KernelGeometry(inH: g.outH, inW: g.outW, outH: g.inH, outW: g.inW, kernel: (kh, kw),
                              padTop: kh - 1 - g.padTop, padLeft: kw - 1 - g.padLeft)
    return DirectConvolution(kernel: flipped, bias: nil).run(dz, geometry: full, activation: .linear)
}

/// dx for any stride: each output pixel's gradient scattered back through the kernel taps.
func conv2dInputGradient(_ dz: Tensor, kernel: Tensor, geometry g: KernelGeometry, inputShape: [Int]) -> Tensor {
    let (cin, cout, taps) = (kernel.shape[2], kernel.shape[3], g.kh * g.kw)
    // With the kernel as [tap, co, ci] the innermost loop runs along ci without a reduction.
    var transposed = [Float](repeating: 0, count: kernel.count)
    for t in 0..<taps {
        for ci in 0..<cin { for co in 0..<cout { transposed[(t * cout + co) * cin + ci] = kernel.scalars[(t * cin + ci) * cout + co] } }
    }
    var dx = Tensor(zeros: inputShape)
    conv2dInputScatter(dx: &dx.scalars, dz: dz.scalars, kernel: transposed, n: inputShape[0], h: inputShape[1], w: inputShape[2],
                       cin: cin, cout: cout, g)
    return dx
}

/// dx[b, oy * sh - padTop + ky, ox * sw - padLeft + kx, :] += dz[b, oy, ox, co] * kernel[ky, kx, co, :]
/// for every output pixel, tap and output channel whose input pixel lies inside dx [n, h, w, cin].
private func conv2dInputScatter(dx: UnsafeMutablePointer<Float>, dz: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
                                n: Int, h: Int, w: Int, cin: Int, cout: Int, _ g: KernelGeometry) {
    for row in 0..<(n * g.outH) {
        let (b, oy) = (row / g.outH, row % g.outH)
        for ox in 0..<g.outW {
            let go = dz + (row * g.outW + ox) * cout
            for ky in 0..<g.kh {
                let iy = oy * g.sh - g.padTop + ky
                if iy < 0 || iy >= h { continue }
                for kx in 0..<g.kw {
                    let ix = ox * g.sw - g.padLeft + kx
                    if ix < 0 || ix >= w { continue }
                    let pixel = dx + ((b * h + iy) * w + ix) * cin, tap = kernel + (ky * g.kw + kx) * cout * cin
                    for co in 0..<cout { axpy(cin, go[co], tap + co * cin, pixel) }
                }
            }
        }
    }
}

// MARK: Conv2DTranspose

/// The scatter of conv2dTransposeForward run backwards, for a kernel [kh, kw, cout, cin] (Keras)
/// and an output gradient dz [n, oh, ow, cout] (g.coutPadded = cout): every (input pixel, tap)
/// pair that reached the output adds dz . kernel[tap] to dx and dz x input to dk[tap].
func conv2dTransposeBackward(dx: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                             kernel: UnsafePointer<Float>, dz: UnsafePointer<Float>, _ g: ScatterGeometry) {
    let (cin, cout) = (g.cin, g.coutPadded)
    for row in 0..<(g.n * g.h) {
        let (b, iy) = (row / g.h, row % g.h)
        for ix in 0..<g.w {
            let input = (row * g.w + ix) * cin
            for tap in 0..<(g.kh * g.kw) {
                let (oy, ox) = (iy * g.sh + tap / g.kw - g.top, ix * g.sw + tap % g.kw - g.left)
                if oy < 0 || oy >= g.oh || ox < 0 || ox >= g.ow { continue }
                let go = dz + ((b * g.oh + oy) * g.ow + ox) * cout
                for co in 0..<cout {
                    let weights = tap * cout * cin + co * cin
                    axpy(cin, go[co], kernel + weights, dx + input)
                    axpy(cin, go[co], x + input, dk + weights)
                }
            }
        }
    }
}
