// The vector helpers every kernel shares: unaligned 16-lane loads and stores, y += a * x, and the
// zero-padded copy of an input that lets the inner loops run without bounds checks.

@inline(__always)
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// y += a * x over n floats, 16 lanes at a time: the inner loop of the scatter kernels (over
/// input channels in the backward passes). Explicit SIMD16, because the compiler's own
/// vectorization of these short runtime-length loops stays at 4 lanes.
@inline(__always)
func axpy(_ n: Int, _ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    var i = 0
    let a16 = SIMD16<Float>(repeating: a)
    while i + 16 <= n {
        store16(load16(y + i) + a16 * load16(x + i), y + i)
        i += 16
    }
    while i < n {
        y[i] += a * x[i]
        i += 1
    }
}

/// The first n floats of x into uninitialised y. A short run (one pixel's channels) in vectors:
/// a call to memmove per pixel cost more than the copy.
@inline(__always)
func copyFloats(_ n: Int, from x: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>) {
    guard n <= 256 else { y.initialize(from: x, count: n); return }
    var i = 0
    while i + 16 <= n {
        store16(load16(x + i), y + i)
        i += 16
    }
    while i < n {
        (y + i).initialize(to: x[i])
        i += 1
    }
}

/// x placed at (top, left) in a zero canvas of the given size, plus `slack` zeros at the end for
/// kernels that read a few floats past the last pixel. What falls outside the canvas (negative
/// offsets, a canvas smaller than x) is left out. Only the border is zeroed: the copy fills the rest.
func zeroPadded(_ x: Tensor, height: Int, width: Int, top: Int, left: Int, slack: Int = 0) -> [Float] {
    let (n, h, w, c) = x.nhwc
    let total = n * height * width * c + slack
    return [Float](unsafeUninitializedCapacity: total) { out, written in
        written = total
        placeInZeros(out: out.baseAddress!, x: x.scalars, n: n, h: h, w: w, c: c, height: height, width: width, top: top, left: left)
        (out.baseAddress! + n * height * width * c).initialize(repeating: 0, count: slack)
    }
}

/// out[b, r, col, :] = x[b, r - top, col - left, :] where that is inside x, else 0; out is
/// [n, height, width, c] and uninitialised on entry, x is [n, h, w, c].
private func placeInZeros(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                          height: Int, width: Int, top: Int, left: Int) {
    let firstRow = max(0, -top), endRow = min(h, height - top)
    let firstCol = max(0, -left), endCol = min(w, width - left)
    guard firstRow < endRow, firstCol < endCol else { out.initialize(repeating: 0, count: n * height * width * c); return }
    let rowLength = width * c, before = (left + firstCol) * c, after = (left + endCol) * c
    for r in 0..<(n * height) {
        let row = out + r * rowLength, (b, source) = (r / height, r % height - top)
        guard source >= firstRow && source < endRow else { row.initialize(repeating: 0, count: rowLength); continue }
        row.initialize(repeating: 0, count: before)
        (row + before).initialize(from: x + ((b * h + source) * w + firstCol) * c, count: after - before)
        (row + after).initialize(repeating: 0, count: rowLength - after)
    }
}
