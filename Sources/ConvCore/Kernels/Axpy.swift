// y += a * x over n floats, 16 lanes at a time: the inner loop of the direct convolutions (over
// output channels in the forward pass, input channels in the backward pass). Explicit SIMD16,
// because the compiler's own vectorization of these short runtime-length loops stays at 4 lanes.

@inline(__always)
func axpy(_ n: Int, _ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    var i = 0
    let a16 = SIMD16<Float>(repeating: a)
    while i + 16 <= n {
        let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: yv + a16 * xv, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n {
        y[i] += a * x[i]
        i += 1
    }
}
