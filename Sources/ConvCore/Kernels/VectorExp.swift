// e^x over sixteen lanes, for sigmoid and tanh in the convolution epilogue: calling expf lane by
// lane cost the region U-Net a twentieth of its time in its 1x1 sigmoid output layer alone.
// Cephes' single-precision method: x = n ln 2 + r with |r| <= ln 2 / 2, e^r from a degree-6
// polynomial (about 1e-7 relative error), 2^n put straight into the exponent bits.

@inline(__always)
func exp16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    // Beyond these e^x leaves the normal floats (2^n must stay a normal power of two). Written
    // with masks and bit patterns: the standard library's clamped, rounded and Float-to-Int32
    // conversions on SIMD types run lane by lane, slower than expf itself.
    var x = x
    x.replace(with: SIMD16(repeating: -87.3), where: x .< -87.3)
    x.replace(with: SIMD16(repeating: 88.3), where: x .> 88.3)
    // Adding 1.5 * 2^23 rounds to an integer, which then sits in the low bits of the pattern.
    let shifted = SIMD16<Float>(repeating: 12_582_912).addingProduct(x, SIMD16(repeating: 1.442_695_04))
    let n = shifted - SIMD16(repeating: 12_582_912)
    // ln 2 in two parts, the first exact in a few bits, so n * ln 2 loses nothing.
    let r = x.addingProduct(n, SIMD16(repeating: -0.693_359_375)).addingProduct(n, SIMD16(repeating: 2.121_944_40e-4))
    var p = SIMD16<Float>(repeating: 1.987_569_150_0e-4)
    p = SIMD16(repeating: 1.398_199_950_7e-3).addingProduct(p, r)
    p = SIMD16(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
    p = SIMD16(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
    p = SIMD16(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
    p = SIMD16(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
    let er = (r + 1).addingProduct(p, r * r)
    // n + 127 into the exponent field: the pattern of `shifted` is 0x4B400000 + n.
    let twoToN = unsafeBitCast((unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B3F_FF81) &<< 23, to: SIMD16<Float>.self)
    return er * twoToN
}
