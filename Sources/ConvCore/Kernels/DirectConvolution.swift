// The Conv2D forward kernel: direct convolution, NHWC, register-blocked (RegisterBlock.swift: six
// output pixels times sixteen output channels) while the kernel taps
// and input channels stream past. The block's pixels are consecutive in output order, across rows
// and tiles, so a narrow tile window (8 pixels wide deep in a U-Net) wastes no lanes on a ragged
// last block. The input is zero-padded once so the inner loops have no bounds
// checks, and the weights are packed once, with the output channels rounded up to 16 so every
// vector is whole. The sums start from the bias and leave through the epilogue.

struct DirectConvolution: Sendable {
    let kh: Int, kw: Int
    let cin: Int, cout: Int
    /// Output channels rounded up to a multiple of 16.
    let coutPadded: Int
    /// Weights [kh, kw, cin, coutPadded], zeros in the padding lanes.
    let weights: AlignedStorage
    /// Bias [coutPadded].
    let bias: AlignedStorage

    init(kernel: Tensor, bias: [Float]?) {
        (kh, kw) = (kernel.shape[0], kernel.shape[1])
        cin = kernel.shape[2]
        cout = kernel.shape[3]
        coutPadded = (cout + 15) / 16 * 16
        weights = AlignedStorage(count: kh * kw * cin * coutPadded)
        for row in 0..<(kh * kw * cin) {
            for co in 0..<cout { weights.pointer[row * coutPadded + co] = kernel.scalars[row * cout + co] }
        }
        self.bias = AlignedStorage(count: coutPadded)
        for co in 0..<(bias == nil ? 0 : cout) { self.bias.pointer[co] = bias![co] }
    }

    func run(_ x: Tensor, geometry g: KernelGeometry, activation: Activation) -> Tensor {
        run(x, geometry: g, epilogue: Epilogue(activation: activation))
    }

    func run(_ x: Tensor, geometry g: KernelGeometry, epilogue: Epilogue) -> Tensor {
        let (n, h, w, _) = x.nhwc
        let hp = (g.outH - 1) * g.sh + g.kh, wp = (g.outW - 1) * g.sw + g.kw
        // The kernels read x itself where every tap falls inside it (a 1x1 or 'valid' convolution,
        // a window inside its input), else a zero-padded copy.
        let inside = g.padTop <= 0 && g.padLeft <= 0 && hp - g.padTop <= h && wp - g.padLeft <= w
        let source = inside ? x.scalars : zeroPadded(x, height: hp, width: wp, top: g.padTop, left: g.padLeft)
        let (height, width, top, left) = inside ? (h, w, -g.padTop, -g.padLeft) : (hp, wp, 0, 0)
        let pixels = n * g.outH * g.outW
        let origins = PixelOrigins(outH: g.outH, outW: g.outW, rows: height, columns: width, top: top, left: left,
                                   sh: g.sh, sw: g.sw, channels: cin)
        let finish = epilogue.prepared(channels: cout)
        // Every pixel's channels are stored once, so the output needs no zero fill.
        return Tensor(shape: [n, g.outH, g.outW, cout]) { out in
            conv2dForward(out: out, padded: source, origins: origins, weights: weights.pointer, bias: bias.pointer,
                          pixels: pixels, kh: g.kh, span: g.kw * cin, rowStride: width * cin,
                          cout: cout, coutPadded: coutPadded, epilogue: finish)
        }
    }
}

/// Where each output pixel's receptive field starts in a [n, rows, columns, channels] source
/// that holds the kernel's padded input at (top, left); computed per register block, where a
/// table of them was one more array as large as the map to write and read.
struct PixelOrigins {
    let outH: Int, outW: Int, rows: Int, columns: Int, top: Int, left: Int, sh: Int, sw: Int, channels: Int

    @inline(__always)
    subscript(p: Int) -> Int {
        let (row, ox) = (p / outW, p % outW), (b, oy) = (row / outH, row % outH)
        return ((b * rows + top + oy * sh) * columns + left + ox * sw) * channels
    }
}

/// out[p, co] = epilogue(bias[co] + sum over ky < kh, t < span of
///                       padded[origins[p] + ky * rowStride + t] * weights[(ky * span + t) * coutPadded + co]).
///
/// out is [pixels, cout]; padded is the zero-padded input, where one kernel row's taps are `span`
/// (= kw * cin) contiguous floats and the next kernel row starts `rowStride` floats later; weights
/// is [kh * span, coutPadded] with zeros past cout; bias is [coutPadded]. Pixels go a register
/// block at a time in output order; the last block repeats its last pixel and stores only its own.
func conv2dForward(out: UnsafeMutablePointer<Float>, padded: UnsafePointer<Float>, origins: PixelOrigins,
                   weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                   pixels: Int, kh: Int, span: Int, rowStride: Int, cout: Int, coutPadded: Int, epilogue: PreparedEpilogue) {
    // 32 channels a pass where pairs of sums fit in the registers (RegisterBlock.swift). Its own
    // loop: sharing one with the sixteen-channel pass timed narrow layers (e1, rgb) about 20%
    // slower, measured while the ISA check was still a global `let` read in the loop; not
    // measured again since that check became a constant.
    if pairsChannelGroups && coutPadded >= 32 {
        return conv2dForwardPairs(out: out, padded: padded, origins: origins, weights: weights, bias: bias, pixels: pixels,
                                  kh: kh, span: span, rowStride: rowStride, cout: cout, coutPadded: coutPadded, epilogue: epilogue)
    }
    let block = BlockSums.count
    for p0 in stride(from: 0, to: pixels, by: block) {
        let count = min(block, pixels - p0)
        let inputs = blockInputs(count: count) { padded + origins[p0 + $0] }
        for co0 in stride(from: 0, to: coutPadded, by: 16) {
            var sums = BlockSums(repeating: load16(bias + co0))
            for ky in 0..<kh {
                let row = ky * rowStride
                accumulate(&sums, inputs, row..<(row + span), weights: weights + ky * span * coutPadded + co0, weightStride: coutPadded)
            }
            let lanes = min(16, cout - co0), o = out + p0 * cout + co0, group = co0 / 16
            for j in 0..<count { epilogue.store(sums[j], group: group, lanes: lanes, to: o + j * cout) }
        }
    }
}

/// conv2dForward 32 output channels a pass (a last 16 alone).
private func conv2dForwardPairs(out: UnsafeMutablePointer<Float>, padded: UnsafePointer<Float>, origins: PixelOrigins,
                                weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, pixels: Int, kh: Int, span: Int,
                                rowStride: Int, cout: Int, coutPadded: Int, epilogue: PreparedEpilogue) {
    let block = BlockSums.count
    @inline(__always) func store(_ sums: BlockSums, _ co0: Int, count: Int, to o: UnsafeMutablePointer<Float>) {
        let lanes = min(16, cout - co0), group = co0 / 16
        for j in 0..<count { epilogue.store(sums[j], group: group, lanes: lanes, to: o + j * cout + co0) }
    }
    for p0 in stride(from: 0, to: pixels, by: block) {
        let count = min(block, pixels - p0)
        let inputs = blockInputs(count: count) { padded + origins[p0 + $0] }
        let o = out + p0 * cout
        var co0 = 0
        while co0 + 32 <= coutPadded {
            var sums = BlockSumsPair(low: BlockSums(repeating: load16(bias + co0)), high: BlockSums(repeating: load16(bias + co0 + 16)))
            for ky in 0..<kh {
                let row = ky * rowStride
                accumulate(&sums, inputs, row..<(row + span), weights: weights + ky * span * coutPadded + co0, weightStride: coutPadded)
            }
            store(sums.low, co0, count: count, to: o)
            store(sums.high, co0 + 16, count: count, to: o)
            co0 += 32
        }
        if co0 < coutPadded {
            var sums = BlockSums(repeating: load16(bias + co0))
            for ky in 0..<kh {
                let row = ky * rowStride
                accumulate(&sums, inputs, row..<(row + span), weights: weights + ky * span * coutPadded + co0, weightStride: coutPadded)
            }
            store(sums, co0, count: count, to: o)
        }
    }
}
