// The Conv2DTranspose forward kernel, NHWC. Every input pixel scatters W[tap] x into the output
// pixel (iy * s + ky, ix * s + kx) of each tap (shifted by the 'same' crop). For one tap, four
// neighbouring input pixels land on four different output pixels, so their sixteen-channel sums
// stay in four SIMD16 accumulators while the input channels stream past, sharing each weight
// vector. The weights are packed once as [tap, cin, cout rounded up to 16]; the sums start from
// the bias in a buffer as wide, and leave through the epilogue.

struct TransposedConvolution: Sendable {
    let layer: Conv2DTranspose
    let cin: Int, cout: Int, coutPadded: Int
    let packedWeights: [Float]
    let packedBias: [Float]

    static let pixelsPerBlock = 4

    /// `kernel` in the Keras layout [kh, kw, cout, cin].
    init(_ layer: Conv2DTranspose, kernel: Tensor, bias: [Float]?) {
        self.layer = layer
        cout = kernel.shape[2]
        cin = kernel.shape[3]
        coutPadded = (cout + 15) / 16 * 16
        let taps = kernel.shape[0] * kernel.shape[1]
        var w = [Float](repeating: 0, count: taps * cin * coutPadded)
        for tap in 0..<taps {
            for co in 0..<cout {
                for ci in 0..<cin { w[(tap * cin + ci) * coutPadded + co] = kernel.scalars[(tap * cout + co) * cin + ci] }
            }
        }
        packedWeights = w
        var b = [Float](repeating: 0, count: coutPadded)
        if let bias { for co in 0..<cout { b[co] = bias[co] } }
        packedBias = b
    }

    /// The whole output, or `window.output` of it when `x` holds `window.input` of the layer's input.
    func run(_ x: Tensor, epilogue: Epilogue, window: (input: TileWindow, output: TileWindow)? = nil) -> Tensor {
        let (n, h, w, _) = x.nhwc
        let (kh, kw) = layer.kernel, (sh, sw) = layer.strides
        var oh = layer.outputSize(h, kernel: kh, stride: sh), ow = layer.outputSize(w, kernel: kw, stride: sw)
        var top = layer.cropStart(kernel: kh, stride: sh), left = layer.cropStart(kernel: kw, stride: sw)
        if let window {
            (oh, ow) = (window.output.rows.count, window.output.cols.count)
            top += window.output.rows.lowerBound - window.input.rows.lowerBound * sh
            left += window.output.cols.lowerBound - window.input.cols.lowerBound * sw
        }
        let (cin, cout, coutPadded) = (self.cin, self.cout, self.coutPadded)
        var sums = [Float](unsafeUninitializedCapacity: n * oh * ow * coutPadded) { buffer, count in
            for p in 0..<(n * oh * ow) {
                for c in 0..<coutPadded { buffer[p * coutPadded + c] = packedBias[c] }
            }
            count = n * oh * ow * coutPadded
        }
        let block = Self.pixelsPerBlock
        x.scalars.withUnsafeBufferPointer { xp in
            packedWeights.withUnsafeBufferPointer { kp in
                sums.withUnsafeMutableBufferPointer { sp in
                    for b in 0..<n {
                        for iy in 0..<h {
                            for ky in 0..<kh {
                                let oy = iy * sh + ky - top
                                if oy < 0 || oy >= oh { continue }
                                for kx in 0..<kw {
                                    let tapWeights = kp.baseAddress! + (ky * kw + kx) * cin * coutPadded
                                    /// The output pixel input pixel `ix` lands on for this tap, if inside.
                                    func target(_ ix: Int) -> Int? {
                                        let ox = ix * sw + kx - left
                                        return ox >= 0 && ox < ow ? (b * oh + oy) * ow + ox : nil
                                    }
                                    var ix = 0
                                    while ix < w {
                                        let pixel = xp.baseAddress! + ((b * h + iy) * w + ix) * cin
                                        if ix + block <= w, let first = target(ix), target(ix + block - 1) != nil {
                                            // Four whole pixels: their outputs are sw pixels apart.
                                            let o0 = sp.baseAddress! + first * coutPadded, step = sw * coutPadded
                                            for co0 in stride(from: 0, to: coutPadded, by: 16) {
                                                var a0 = load16(o0 + co0), a1 = load16(o0 + step + co0)
                                                var a2 = load16(o0 + 2 * step + co0), a3 = load16(o0 + 3 * step + co0)
                                                var weight = tapWeights + co0
                                                for ci in 0..<cin {
                                                    let v = load16(weight)
                                                    a0 = a0.addingProduct(SIMD16(repeating: pixel[ci]), v)
                                                    a1 = a1.addingProduct(SIMD16(repeating: pixel[cin + ci]), v)
                                                    a2 = a2.addingProduct(SIMD16(repeating: pixel[2 * cin + ci]), v)
                                                    a3 = a3.addingProduct(SIMD16(repeating: pixel[3 * cin + ci]), v)
                                                    weight += coutPadded
                                                }
                                                store16(a0, o0 + co0); store16(a1, o0 + step + co0)
                                                store16(a2, o0 + 2 * step + co0); store16(a3, o0 + 3 * step + co0)
                                            }
                                            ix += block
                                        } else {
                                            if let o = target(ix) {
                                                let out = sp.baseAddress! + o * coutPadded
                                                for co0 in stride(from: 0, to: coutPadded, by: 16) {
                                                    var a = load16(out + co0)
                                                    var weight = tapWeights + co0
                                                    for ci in 0..<cin {
                                                        a = a.addingProduct(SIMD16(repeating: pixel[ci]), load16(weight))
                                                        weight += coutPadded
                                                    }
                                                    store16(a, out + co0)
                                                }
                                            }
                                            ix += 1
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let finish = epilogue.prepared(channels: cout)
        return Tensor(shape: [n, oh, ow, cout]) { out in
            sums.withUnsafeBufferPointer { sp in
                for p in 0..<(n * oh * ow) {
                    for co0 in stride(from: 0, to: coutPadded, by: 16) {
                        finish.store(load16(sp.baseAddress! + p * coutPadded + co0), group: co0 / 16, lanes: min(16, cout - co0),
                                     to: out + p * cout + co0)
                    }
                }
            }
        }
    }
}

@inline(__always)
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}
