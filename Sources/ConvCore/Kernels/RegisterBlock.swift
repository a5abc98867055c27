import CVectorISA

// The micro-kernel the direct convolution and Winograd's products share: a block of rows (output
// pixels, or tiles at one Winograd position) times sixteen output channels, kept in registers as
// one SIMD16 sum per row while the reduction streams past. Each step broadcasts one input value
// per row and multiplies it with one weight vector shared by the block.
//
// Six rows: on AVX2 a SIMD16 takes two of the sixteen registers, so six sums (12 registers, 2 for
// the weights, 1 for the broadcast) are the most that run without spilling. On AVX-512 (one
// register per SIMD16, thirty-two of them) twelve rows would keep more FMAs in flight; written out
// and measured on Zen 5 (2 vCPUs, one thread, best of four alternating runs of `tessera bench`)
// they were no faster: conv3x3_16 20,429 against 21,951 tiles/s at batch 64, region_unet training
// 4,245 against 4,056 tiles/s at batch 32, all within the host's noise; again with Winograd's
// F(4x4, 3x3) (2026-12-04), slower: conv3x3_16 38.3k against 40.4k tiles/s at batch 1. Where the time goes instead:
// the padding copy, the transforms and the epilogue, not the FMA latency six sums leave exposed.
typealias BlockSums = InlineArray<6, SIMD16<Float>>
typealias BlockInputs = InlineArray<6, UnsafePointer<Float>>

/// sums[j] += Σ_{t in steps} inputs[j][t] * weights[(t - steps.lowerBound) * weightStride ..< +16].
/// Written out sum by sum: a loop over the InlineArray's elements leaves them in memory, not in
/// registers (four times slower).
@inline(__always)
func accumulate(_ sums: inout BlockSums, _ inputs: BlockInputs, _ steps: Range<Int>,
                weights: UnsafePointer<Float>, weightStride: Int) {
    // addingProduct, not += *: Swift does not fuse the latter into an FMA.
    var w = weights
    let i0 = inputs[0], i1 = inputs[1], i2 = inputs[2], i3 = inputs[3], i4 = inputs[4], i5 = inputs[5]
    var a0 = sums[0], a1 = sums[1], a2 = sums[2], a3 = sums[3], a4 = sums[4], a5 = sums[5]
    for t in steps {
        let wv = load16(w)
        a0 = a0.addingProduct(SIMD16(repeating: i0[t]), wv)
        a1 = a1.addingProduct(SIMD16(repeating: i1[t]), wv)
        a2 = a2.addingProduct(SIMD16(repeating: i2[t]), wv)
        a3 = a3.addingProduct(SIMD16(repeating: i3[t]), wv)
        a4 = a4.addingProduct(SIMD16(repeating: i4[t]), wv)
        a5 = a5.addingProduct(SIMD16(repeating: i5[t]), wv)
        w += weightStride
    }
    sums = [a0, a1, a2, a3, a4, a5]
}

/// Where the register file holds two blocks of sums at once (AVX-512: 12 of 32 registers), a
/// kernel runs 32 output channels per pass: each broadcast input then feeds two FMAs, where with
/// sixteen channels every FMA waits on its own load (a microbenchmark on Zen 5, 16 channels in:
/// 6 rows x 16 channels 153-163 GFLOP/s, 6 x 32 220-245). AVX2 keeps one: its SIMD16 already
/// takes two registers, so six rows of sums fill twelve of its sixteen.
/// (A computed constant, not a global `let`: the C call folds at compile time, where a global's
/// lazy initialisation check sat in the kernels' loops.)
var pairsChannelGroups: Bool {
    @inline(__always) get { tessera_vector_registers() >= 32 }
}

/// The sums of a block over 32 output channels: channels co0 ..< co0 + 16 and co0 + 16 ..< co0 + 32.
struct BlockSumsPair {
    var low: BlockSums, high: BlockSums
}

/// As `accumulate`, for two groups of sixteen channels: sums.low with weights[... + 0 ..< 16],
/// sums.high with weights[... + 16 ..< 32].
@inline(__always)
func accumulate(_ sums: inout BlockSumsPair, _ inputs: BlockInputs, _ steps: Range<Int>,
                weights: UnsafePointer<Float>, weightStride: Int) {
    var w = weights
    let i0 = inputs[0], i1 = inputs[1], i2 = inputs[2], i3 = inputs[3], i4 = inputs[4], i5 = inputs[5]
    var a0 = sums.low[0], a1 = sums.low[1], a2 = sums.low[2], a3 = sums.low[3], a4 = sums.low[4], a5 = sums.low[5]
    var b0 = sums.high[0], b1 = sums.high[1], b2 = sums.high[2], b3 = sums.high[3], b4 = sums.high[4], b5 = sums.high[5]
    for t in steps {
        let wa = load16(w), wb = load16(w + 16)
        let x0 = SIMD16(repeating: i0[t]), x1 = SIMD16(repeating: i1[t]), x2 = SIMD16(repeating: i2[t])
        let x3 = SIMD16(repeating: i3[t]), x4 = SIMD16(repeating: i4[t]), x5 = SIMD16(repeating: i5[t])
        a0 = a0.addingProduct(x0, wa); b0 = b0.addingProduct(x0, wb)
        a1 = a1.addingProduct(x1, wa); b1 = b1.addingProduct(x1, wb)
        a2 = a2.addingProduct(x2, wa); b2 = b2.addingProduct(x2, wb)
        a3 = a3.addingProduct(x3, wa); b3 = b3.addingProduct(x3, wb)
        a4 = a4.addingProduct(x4, wa); b4 = b4.addingProduct(x4, wb)
        a5 = a5.addingProduct(x5, wa); b5 = b5.addingProduct(x5, wb)
        w += weightStride
    }
    sums = BlockSumsPair(low: [a0, a1, a2, a3, a4, a5], high: [b0, b1, b2, b3, b4, b5])
}

/// The block's input rows: rows first ..< first + count of `row`, the last repeated to fill the
/// block (its sums are computed and not stored).
@inline(__always)
func blockInputs(count: Int, _ row: (Int) -> UnsafePointer<Float>) -> BlockInputs {
    BlockInputs { j in row(min(j, count - 1)) }
}
