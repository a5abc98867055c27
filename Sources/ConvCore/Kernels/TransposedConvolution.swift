// The Conv2DTranspose forward kernel, NHWC. Every input pixel scatters W[tap] x into the output
// pixel (iy * s + ky, ix * s + kx) of each tap (shifted by the 'same' crop). For one tap, four
// neighbouring input pixels land on four different output pixels, so their sixteen-channel sums
// stay in four SIMD16 accumulators while the input channels stream past, sharing each weight
// vector. The weights are packed once as [tap, cin, cout rounded up to 16]; the sums start from
// the bias in a buffer as wide, and leave through the epilogue.

struct TransposedConvolution: Sendable {
    let layer: Conv2DTranspose
    let cin: Int, cout: Int, coutPadded: Int
    /// Weights [kh, kw, cin, coutPadded], zeros in the padding lanes.
    let weights: AlignedStorage
    /// Bias [coutPadded].
    let bias: AlignedStorage

    static let pixelsPerBlock = 4

    /// `kernel` in the Keras layout [kh, kw, cout, cin].
    init(_ layer: Conv2DTranspose, kernel: Tensor, bias: [Float]?) {
        self.layer = layer
        cout = kernel.shape[2]
        cin = kernel.shape[3]
        coutPadded = (cout + 15) / 16 * 16
        let taps = kernel.shape[0] * kernel.shape[1]
        weights = AlignedStorage(count: taps * cin * coutPadded)
        for tap in 0..<taps {
            for co in 0..<cout {
                for ci in 0..<cin { weights.pointer[(tap * cin + ci) * coutPadded + co] = kernel.scalars[(tap * cout + co) * cin + ci] }
            }
        }
        self.bias = AlignedStorage(count: coutPadded)
        for co in 0..<(bias == nil ? 0 : cout) { self.bias.pointer[co] = bias![co] }
    }

    /// The whole output, or `window.output` of it when `x` holds `window.input` of the layer's input.
    func run(_ x: Tensor, epilogue: Epilogue, window: (input: TileWindow, output: TileWindow)? = nil) -> Tensor {
        let (n, h, w, _) = x.nhwc
        let (kh, kw) = layer.kernel, (sh, sw) = layer.strides
        let oh = window?.output.rows.count ?? layer.outputSize(h, kernel: kh, stride: sh)
        let ow = window?.output.cols.count ?? layer.outputSize(w, kernel: kw, stride: sw)
        let (top, left) = layer.scatterCrop(window)
        let pixels = n * oh * ow
        let geometry = ScatterGeometry(n: n, h: h, w: w, cin: cin, oh: oh, ow: ow, kh: kh, kw: kw, sh: sh, sw: sw,
                                       top: top, left: left, coutPadded: coutPadded)
        let finish = epilogue.prepared(channels: cout)
        if (kh, kw) == (sh, sw) {
            return Tensor(shape: [n, oh, ow, cout]) { out in
                conv2dTransposeOneTap(out: out, x: x.scalars, weights: weights.pointer, bias: bias.pointer, cout: cout,
                                      epilogue: finish, geometry)
            }
        }
        var sums = [Float](unsafeUninitializedCapacity: pixels * coutPadded) { buffer, count in
            for p in 0..<pixels { (buffer.baseAddress! + p * coutPadded).initialize(from: bias.pointer, count: coutPadded) }
            count = pixels * coutPadded
        }
        conv2dTransposeForward(sums: &sums, x: x.scalars, weights: weights.pointer, geometry)
        return Tensor(shape: [n, oh, ow, cout]) { out in
            finishSums(out: out, sums: sums, pixels: pixels, cout: cout, coutPadded: coutPadded, epilogue: finish)
        }
    }
}

/// Sizes of a transposed convolution's scatter: input [n, h, w, cin], output [n, oh, ow, coutPadded]
/// (the forward pass's sums have their channels padded to 16; the backward pass's gradients do
/// not); input pixel (iy, ix) lands through tap (ky, kx) on output (iy * sh + ky - top, ix * sw + kx - left).
struct ScatterGeometry {
    let n, h, w, cin: Int
    let oh, ow: Int
    let kh, kw, sh, sw: Int
    let top, left: Int
    let coutPadded: Int
}

/// sums[b, oy, ox, :] += x[b, iy, ix, :] . weights[ky, kx] for every input pixel and tap whose
/// target (oy, ox) lies inside the sums; weights is [kh, kw, cin, coutPadded].
func conv2dTransposeForward(sums: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weights: UnsafePointer<Float>, _ g: ScatterGeometry) {
    for row in 0..<(g.n * g.h) {
        let (b, iy) = (row / g.h, row % g.h)
        for ky in 0..<g.kh {
            let oy = iy * g.sh + ky - g.top
            if oy < 0 || oy >= g.oh { continue }
            for kx in 0..<g.kw {
                scatterRow(out: sums + (b * g.oh + oy) * g.ow * g.coutPadded, pixels: x + row * g.w * g.cin,
                           weights: weights + (ky * g.kw + kx) * g.cin * g.coutPadded, offset: kx - g.left, g)
            }
        }
    }
}

/// One input row through one tap: out[ix * sw + offset, :] += pixels[ix, :] . weights for every ix
/// whose target lies in 0 ..< ow, four whole pixels at a time (their targets sw pixels apart).
@inline(__always)
private func scatterRow(out: UnsafeMutablePointer<Float>, pixels: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                        offset: Int, _ g: ScatterGeometry) {
    let (cin, coutPadded) = (g.cin, g.coutPadded), step = g.sw * coutPadded
    var ix = 0
    while ix < g.w {
        let ox = ix * g.sw + offset, pixel = pixels + ix * cin
        if ix + TransposedConvolution.pixelsPerBlock <= g.w, ox >= 0, ox + 3 * g.sw < g.ow {
            let o0 = out + ox * coutPadded
            for co0 in stride(from: 0, to: coutPadded, by: 16) {
                var a0 = load16(o0 + co0), a1 = load16(o0 + step + co0), a2 = load16(o0 + 2 * step + co0), a3 = load16(o0 + 3 * step + co0)
                var w = weights + co0
                for ci in 0..<cin {
                    let wv = load16(w)
                    a0 = a0.addingProduct(SIMD16(repeating: pixel[ci]), wv)
                    a1 = a1.addingProduct(SIMD16(repeating: pixel[cin + ci]), wv)
                    a2 = a2.addingProduct(SIMD16(repeating: pixel[2 * cin + ci]), wv)
                    a3 = a3.addingProduct(SIMD16(repeating: pixel[3 * cin + ci]), wv)
                    w += coutPadded
                }
                store16(a0, o0 + co0); store16(a1, o0 + step + co0); store16(a2, o0 + 2 * step + co0); store16(a3, o0 + 3 * step + co0)
            }
            ix += TransposedConvolution.pixelsPerBlock
            continue
        }
        if ox >= 0 && ox < g.ow {
            let o = out + ox * coutPadded
            for co0 in stride(from: 0, to: coutPadded, by: 16) {
                var a = load16(o + co0), w = weights + co0
                for ci in 0..<cin {
                    a = a.addingProduct(SIMD16(repeating: pixel[ci]), load16(w))
                    w += coutPadded
                }
                store16(a, o + co0)
            }
        }
        ix += 1
    }
}

/// The transposed convolution whose kernel is its stride (a U-Net's 2x2 upsampling): the taps
/// do not overlap, so each output pixel is the bias plus one input pixel times one tap,
/// out[oy, ox] = epilogue(bias + x[(oy + top) / sh, (ox + left) / sw] . weights[(oy + top) % sh, (ox + left) % sw])
/// (bias alone where that pixel is outside x). A row's outputs through one tap are sw apart and
/// read consecutive input pixels: they go a register block at a time (RegisterBlock.swift) and
/// leave through the epilogue, with no sums buffer to fill and read back.
func conv2dTransposeOneTap(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                           bias: UnsafePointer<Float>, cout: Int, epilogue: PreparedEpilogue, _ g: ScatterGeometry) {
    let (cin, coutPadded, s) = (g.cin, g.coutPadded, g.sw), block = BlockSums.count
    @inline(__always) func store(_ sums: BlockSums, count: Int, co0: Int, to first: UnsafeMutablePointer<Float>) {
        let lanes = min(16, cout - co0)
        for j in 0..<count { epilogue.store(sums[j], group: co0 / 16, lanes: lanes, to: first + j * s * cout + co0) }
    }
    for row in 0..<(g.n * g.oh) {
        let (b, oy) = (row / g.oh, row % g.oh), ty = oy + g.top
        let iy = ty >= 0 ? ty / g.sh : -1, ky = ty >= 0 ? ty % g.sh : 0
        let rowOut = out + row * g.ow * cout
        for kx in 0..<s {
            // Outputs ox = first + s * j read input ix = firstInput + j.
            let first = ((kx - g.left) % s + s) % s, firstInput = (first + g.left) / s
            guard first < g.ow else { continue }
            let count = (g.ow - first + s - 1) / s
            let tap = weights + (ky * g.kw + kx) * cin * coutPadded
            var j = 0
            while j < count {
                let ix = firstInput + j
                let inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w
                // A run of inputs inside x, a block at a time; a position outside gets the bias alone.
                let run = inside ? min(block, count - j, g.w - ix) : 1
                for co0 in stride(from: 0, to: coutPadded, by: 16) {
                    var sums = BlockSums(repeating: load16(bias + co0))
                    if inside {
                        let inputs = blockInputs(count: run) { x + ((b * g.h + iy) * g.w + ix + $0) * cin }
                        accumulate(&sums, inputs, 0..<cin, weights: tap + co0, weightStride: coutPadded)
                    }
                    store(sums, count: run, co0: co0, to: rowOut + (first + s * j) * cout)
                }
                j += run
            }
        }
    }
}

/// out[p, :cout] = epilogue(sums[p, :]) for sums [pixels, coutPadded].
func finishSums(out: UnsafeMutablePointer<Float>, sums: UnsafePointer<Float>, pixels: Int, cout: Int, coutPadded: Int,
                epilogue: PreparedEpilogue) {
    for p in 0..<pixels {
        for co0 in stride(from: 0, to: coutPadded, by: 16) {
            epilogue.store(load16(sums + p * coutPadded + co0), group: co0 / 16, lanes: min(16, cout - co0), to: out + p * cout + co0)
        }
    }
}
