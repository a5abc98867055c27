// The Conv2D forward kernel: direct convolution, NHWC, register-blocked. Six output pixels times
// sixteen output channels stay in six SIMD16 accumulators while the kernel taps and input channels
// stream past: each input value is broadcast and multiplied with one weight vector. Six is what
// fits AVX2's sixteen registers (12 for the sums, 2 for the weights, 1 for the broadcast); more
// spills to the stack and runs at a third of the speed. The six pixels are consecutive in output
// order, across rows and tiles, so a narrow tile window (8 pixels wide deep in a U-Net) wastes no
// lanes on a ragged last block. The input is zero-padded once so the inner loops have no bounds
// checks, and the weights are packed once, with the output channels rounded up to 16 so every
// vector is whole. The sums start from the bias and leave through the epilogue.

struct DirectConvolution: Sendable {
    let kh: Int, kw: Int
    let cin: Int, cout: Int
    /// Output channels rounded up to a multiple of 16.
    let coutPadded: Int
    /// Weights [kh, kw, cin, coutPadded], zeros in the padding lanes.
    let packedWeights: [Float]
    let packedBias: [Float]

    static let pixelsPerBlock = 6

    init(kernel: Tensor, bias: [Float]?) {
        (kh, kw) = (kernel.shape[0], kernel.shape[1])
        cin = kernel.shape[2]
        cout = kernel.shape[3]
        coutPadded = (cout + 15) / 16 * 16
        var w = [Float](repeating: 0, count: kh * kw * cin * coutPadded)
        for row in 0..<(kh * kw * cin) {
            for co in 0..<cout { w[row * coutPadded + co] = kernel.scalars[row * cout + co] }
        }
        packedWeights = w
        var b = [Float](repeating: 0, count: coutPadded)
        if let bias { for co in 0..<cout { b[co] = bias[co] } }
        packedBias = b
    }

    func run(_ x: Tensor, geometry g: WindowGeometry, activation: Activation) -> Tensor {
        run(x, geometry: g, epilogue: Epilogue(activation: activation))
    }

    func run(_ x: Tensor, geometry g: WindowGeometry, epilogue: Epilogue) -> Tensor {
        let n = x.shape[0]
        let hp = (g.outH - 1) * g.sh + g.kh, wp = (g.outW - 1) * g.sw + g.kw
        let padded = zeroPadded(x, height: hp, width: wp, top: g.padTop, left: g.padLeft)
        let (cin, cout, coutPadded) = (self.cin, self.cout, self.coutPadded)
        let pixels = n * g.outH * g.outW, block = Self.pixelsPerBlock
        // Where each output pixel's receptive field starts in the padded input.
        var origins = [Int](repeating: 0, count: pixels)
        for b in 0..<n {
            for oy in 0..<g.outH {
                for ox in 0..<g.outW { origins[(b * g.outH + oy) * g.outW + ox] = ((b * hp + oy * g.sh) * wp + ox * g.sw) * cin }
            }
        }
        // One kernel row's taps read consecutive input pixels: kw * cin contiguous floats, matched
        // by kw * cin contiguous rows of packed weights.
        let span = g.kw * cin, rowStride = wp * cin
        let finish = epilogue.prepared(channels: cout)
        // Every pixel's channels are stored once below, so the output needs no zero fill.
        return Tensor(shape: [n, g.outH, g.outW, cout]) { yp in
            padded.withUnsafeBufferPointer { pp in
                packedWeights.withUnsafeBufferPointer { wp16 in
                    packedBias.withUnsafeBufferPointer { bp in
                        origins.withUnsafeBufferPointer { op in
                            // Blocks of six pixels in output order, across row and tile boundaries;
                            // the last block repeats its last pixel and stores only its own.
                            for p0 in stride(from: 0, to: pixels, by: block) {
                                let count = min(block, pixels - p0)
                                let x = pp.baseAddress!
                                let i0 = x + op[p0], i1 = x + op[p0 + min(1, count - 1)], i2 = x + op[p0 + min(2, count - 1)]
                                let i3 = x + op[p0 + min(3, count - 1)], i4 = x + op[p0 + min(4, count - 1)], i5 = x + op[p0 + min(5, count - 1)]
                                for co0 in stride(from: 0, to: coutPadded, by: 16) {
                                    let bias = load16(bp.baseAddress! + co0)
                                    var a0 = bias, a1 = bias, a2 = bias, a3 = bias, a4 = bias, a5 = bias
                                    for ky in 0..<g.kh {
                                        let row = ky * rowStride
                                        var weight = wp16.baseAddress! + ky * span * coutPadded + co0
                                        for t in row..<(row + span) {
                                            let w = load16(weight)
                                            // addingProduct, not += *: Swift does not fuse the latter into an FMA.
                                            a0 = a0.addingProduct(SIMD16(repeating: i0[t]), w)
                                            a1 = a1.addingProduct(SIMD16(repeating: i1[t]), w)
                                            a2 = a2.addingProduct(SIMD16(repeating: i2[t]), w)
                                            a3 = a3.addingProduct(SIMD16(repeating: i3[t]), w)
                                            a4 = a4.addingProduct(SIMD16(repeating: i4[t]), w)
                                            a5 = a5.addingProduct(SIMD16(repeating: i5[t]), w)
                                            weight += coutPadded
                                        }
                                    }
                                    let lanes = min(16, cout - co0)
                                    let out = yp + p0 * cout + co0
                                    @inline(__always) func emit(_ a: SIMD16<Float>, _ p: Int) {
                                        if p < count { finish.store(a, group: co0 / 16, lanes: lanes, to: out + p * cout) }
                                    }
                                    emit(a0, 0); emit(a1, 1); emit(a2, 2); emit(a3, 3); emit(a4, 4); emit(a5, 5)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// x placed at (top, left) in a zero canvas of the given size, plus `slack` zeros at the end for
/// kernels that read a few floats past the last pixel. What falls outside the canvas (negative
/// offsets, a canvas smaller than x) is left out. Only the border is zeroed: the copy fills the rest.
func zeroPadded(_ x: Tensor, height: Int, width: Int, top: Int, left: Int, slack: Int = 0) -> [Float] {
    let (n, h, w, c) = x.nhwc
    let total = n * height * width * c + slack
    let firstRow = max(0, -top), endRow = min(h, height - top)
    let firstCol = max(0, -left), endCol = min(w, width - left)
    return [Float](unsafeUninitializedCapacity: total) { out, written in
        let op = out.baseAddress!
        written = total
        guard firstRow < endRow, firstCol < endCol else { op.initialize(repeating: 0, count: total); return }
        let rowLength = width * c, before = (left + firstCol) * c, after = (left + endCol) * c
        x.scalars.withUnsafeBufferPointer { xp in
            for b in 0..<n {
                for r in 0..<height {
                    let row = op + (b * height + r) * rowLength, source = r - top
                    guard source >= firstRow && source < endRow else { row.initialize(repeating: 0, count: rowLength); continue }
                    row.initialize(repeating: 0, count: before)
                    (row + before).initialize(from: xp.baseAddress! + ((b * h + source) * w + firstCol) * c, count: after - before)
                    (row + after).initialize(repeating: 0, count: rowLength - after)
                }
            }
        }
        (op + n * height * width * c).initialize(repeating: 0, count: slack)
    }
}

@inline(__always)
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// The weight gradient of a convolution, tap by tap a small matrix product summed over every
/// output pixel: dW[tap][ci][co] = sum over pixels of x[pixel at tap][ci] * dz[pixel][co]. Eight
/// input channels by sixteen output channels stay in eight SIMD16 accumulators over the pixels.
func convolutionWeightGradient(_ x: Tensor, _ dz: Tensor, geometry g: WindowGeometry) -> Tensor {
    let (n, _, _, cin) = x.nhwc
    let hp = (g.outH - 1) * g.sh + g.kh, wp = (g.outW - 1) * g.sw + g.kw
    // Eight floats of slack: the last pixel's channel block may read up to seven past its end.
    let padded = zeroPadded(x, height: hp, width: wp, top: g.padTop, left: g.padLeft, slack: 8)
    let cout = dz.shape[3]
    let coutPadded = (cout + 15) / 16 * 16
    // dz with its channels padded to 16 lanes, so every vector load is whole.
    var gradients = [Float](repeating: 0, count: n * g.outH * g.outW * coutPadded)
    for p in 0..<(n * g.outH * g.outW) {
        for co in 0..<cout { gradients[p * coutPadded + co] = dz.scalars[p * cout + co] }
    }
    var dw = Tensor(zeros: [g.kh, g.kw, cin, cout])
    padded.withUnsafeBufferPointer { xp in
        gradients.withUnsafeBufferPointer { gp in
            dw.scalars.withUnsafeMutableBufferPointer { dwp in
                for ky in 0..<g.kh {
                    for kx in 0..<g.kw {
                        for ci0 in stride(from: 0, to: cin, by: 8) {
                            let rows = min(8, cin - ci0)
                            for co0 in stride(from: 0, to: coutPadded, by: 16) {
                                var a0 = SIMD16<Float>.zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
                                for b in 0..<n {
                                    for oy in 0..<g.outH {
                                        var input = xp.baseAddress! + ((b * hp + oy * g.sh + ky) * wp + kx) * cin + ci0
                                        var gradient = gp.baseAddress! + ((b * g.outH + oy) * g.outW) * coutPadded + co0
                                        for _ in 0..<g.outW {
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
                                            input += g.sw * cin
                                            gradient += coutPadded
                                        }
                                    }
                                }
                                func store(_ a: SIMD16<Float>, _ r: Int) {
                                    guard r < rows else { return }
                                    let out = dwp.baseAddress! + ((ky * g.kw + kx) * cin + ci0 + r) * cout
                                    for l in 0..<min(16, cout - co0) { out[co0 + l] = a[l] }
                                }
                                store(a0, 0); store(a1, 1); store(a2, 2); store(a3, 3)
                                store(a4, 4); store(a5, 5); store(a6, 6); store(a7, 7)
                            }
                        }
                    }
                }
            }
        }
    }
    return dw
}
