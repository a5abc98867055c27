// The Conv2D forward kernel for 3x3 stride-1 convolutions: Winograd's minimal filtering F(2x2, 3x3)
// (Lavin and Gray 2016). A 2x2 block of outputs is Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A over the 4x4
// input patch d it reads: 16 multiplications per input and output channel instead of 36, 2.25x
// fewer, for a few additions in the transforms. The kernel is transformed once (U = G g Gᵀ, per
// input and output channel); the input patches and the products are transformed per block of
// tiles. What remains is 16 independent products, one per position ξ of the 4x4 transform:
// M[ξ][t][co] = Σ_ci V[ξ][t][ci] U[ξ][ci][co], register-blocked as the direct kernel is (RegisterBlock.swift:
// six or twelve tiles times sixteen output channels, the inner loop over input channels). Tiles go
// in chunks small enough that V and M stay in the L2 cache. The result equals the direct kernel's
// up to float rounding.
//
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   G  = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
//   Aᵀ = [1 1 1 0; 0 1 -1 -1]

struct WinogradConvolution: Sendable {
    let cin: Int, cout: Int
    /// Output channels rounded up to a multiple of 16.
    let coutPadded: Int
    /// U = G g Gᵀ: [16 (ξ), cin, coutPadded], zeros in the padding lanes.
    let transformed: AlignedStorage
    /// Bias [coutPadded].
    let bias: AlignedStorage

    /// Tiles (2x2 output blocks) transformed at a time; a multiple of the six or twelve the products block.
    static let chunk = 24

    /// Whether a convolution of this shape gains from the transform: 3x3, stride 1, and enough
    /// input channels that the products, not the transforms, are the work (`tessera bench`: a
    /// 3-channel first layer runs no faster).
    static func suits(kernel: (Int, Int), strides: (Int, Int), inputChannels: Int) -> Bool {
        kernel == (3, 3) && strides == (1, 1) && inputChannels >= 8
    }

    init(kernel: Tensor, bias: [Float]?) {
        precondition(kernel.shape[0] == 3 && kernel.shape[1] == 3)
        let (cin, cout) = (kernel.shape[2], kernel.shape[3]), coutPadded = (cout + 15) / 16 * 16
        (self.cin, self.cout, self.coutPadded) = (cin, cout, coutPadded)
        let transformed = AlignedStorage(count: 16 * cin * coutPadded)
        self.transformed = transformed
        for ci in 0..<cin {
            for co in 0..<cout {
                func g(_ r: Int, _ c: Int) -> Float { kernel.scalars[((r * 3 + c) * cin + ci) * cout + co] }
                // G g: four rows of three.
                var rows = [[Float]](repeating: [0, 0, 0], count: 4)
                for c in 0..<3 {
                    rows[0][c] = g(0, c)
                    rows[1][c] = 0.5 * (g(0, c) + g(1, c) + g(2, c))
                    rows[2][c] = 0.5 * (g(0, c) - g(1, c) + g(2, c))
                    rows[3][c] = g(2, c)
                }
                // (G g) Gᵀ: four columns of each row.
                for r in 0..<4 {
                    let u = [rows[r][0], 0.5 * (rows[r][0] + rows[r][1] + rows[r][2]), 0.5 * (rows[r][0] - rows[r][1] + rows[r][2]), rows[r][2]]
                    for c in 0..<4 { transformed.pointer[((r * 4 + c) * cin + ci) * coutPadded + co] = u[c] }
                }
            }
        }
        let packed = AlignedStorage(count: coutPadded)
        for co in 0..<(bias == nil ? 0 : cout) { packed.pointer[co] = bias![co] }
        self.bias = packed
    }

    func run(_ x: Tensor, geometry g: KernelGeometry, epilogue: Epilogue) -> Tensor {
        precondition(g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1)
        let n = x.shape[0]
        let (tilesDown, tilesAcross) = ((g.outH + 1) / 2, (g.outW + 1) / 2)
        // Every 2x2 block reads a 4x4 patch: a ragged last row or column of outputs reads one
        // more row or column of zeros, and its missing outputs are not stored.
        let hp = 2 * tilesDown + 2, wp = 2 * tilesAcross + 2
        let padded = zeroPadded(x, height: hp, width: wp, top: g.padTop, left: g.padLeft)
        let finish = epilogue.prepared(channels: cout)
        let tiles = n * tilesDown * tilesAcross
        return Tensor(shape: [n, g.outH, g.outW, cout]) { out in
            padded.withUnsafeBufferPointer { input in
                let patchStorage = AlignedStorage(count: 16 * Self.chunk * cin)
                let productStorage = AlignedStorage(count: Self.chunk * 16 * coutPadded)
                // Plain pointers for the loops: touching the storage objects there would retain them.
                let (source, patches, products) = (input.baseAddress!, patchStorage.pointer, productStorage.pointer)
                let (weights, bias) = (transformed.pointer, self.bias.pointer)
                let (cin, cout, coutPadded, chunk) = (cin, cout, coutPadded, Self.chunk)
                for t0 in stride(from: 0, to: tiles, by: chunk) {
                    let count = min(chunk, tiles - t0)
                    for t in 0..<count {
                        let tile = t0 + t, b = tile / (tilesDown * tilesAcross), k = tile % (tilesDown * tilesAcross)
                        let origin = source + ((b * hp + 2 * (k / tilesAcross)) * wp + 2 * (k % tilesAcross)) * cin
                        winogradInputTransform(patch: origin, rowStride: wp * cin, cin: cin, to: patches + t * cin, xiStride: chunk * cin)
                    }
                    for xi in 0..<16 {
                        winogradProducts(patches: patches + xi * chunk * cin, weights: weights + xi * cin * coutPadded,
                                         tiles: count, cin: cin, coutPadded: coutPadded, to: products + xi * coutPadded, tileStride: 16 * coutPadded)
                    }
                    winogradOutputTransform(products: products, tiles: t0..<(t0 + count), across: tilesAcross, down: tilesDown,
                                            outH: g.outH, outW: g.outW, bias: bias, cout: cout, coutPadded: coutPadded,
                                            epilogue: finish, to: out)
                }
            }
        }
    }
}

/// V = Bᵀ d B for the 4x4 patch d at `patch` (rows `rowStride` floats apart, pixels `cin` apart):
/// V[ξ][c] goes to `to + ξ * xiStride + c`. A row of Bᵀ d is two of d's rows combined, and each
/// row of V comes from one row of Bᵀ d: sixteen channels at a time, each row straight from the
/// loads, so no more than eight vectors are live (AVX2 holds a SIMD16 in two registers).
@inline(__always)
func winogradInputTransform(patch: UnsafePointer<Float>, rowStride: Int, cin: Int, to: UnsafeMutablePointer<Float>, xiStride: Int) {
    var c = 0
    while c + 16 <= cin {
        let p = patch + c, o = to + c
        @inline(__always) func d(_ r: Int, _ col: Int) -> SIMD16<Float> { load16(p + r * rowStride + col * cin) }
        @inline(__always) func row(_ t0: SIMD16<Float>, _ t1: SIMD16<Float>, _ t2: SIMD16<Float>, _ t3: SIMD16<Float>, _ r: Int) {
            let q = o + 4 * r * xiStride
            store16(t0 - t2, q)
            store16(t1 + t2, q + xiStride)
            store16(t2 - t1, q + 2 * xiStride)
            store16(t1 - t3, q + 3 * xiStride)
        }
        row(d(0, 0) - d(2, 0), d(0, 1) - d(2, 1), d(0, 2) - d(2, 2), d(0, 3) - d(2, 3), 0)
        row(d(1, 0) + d(2, 0), d(1, 1) + d(2, 1), d(1, 2) + d(2, 2), d(1, 3) + d(2, 3), 1)
        row(d(2, 0) - d(1, 0), d(2, 1) - d(1, 1), d(2, 2) - d(1, 2), d(2, 3) - d(1, 3), 2)
        row(d(1, 0) - d(3, 0), d(1, 1) - d(3, 1), d(1, 2) - d(3, 2), d(1, 3) - d(3, 3), 3)
        c += 16
    }
    // The last channels of a count that is not a multiple of 16, one at a time.
    for ch in c..<cin {
        let p = patch + ch, o = to + ch
        func d(_ r: Int, _ col: Int) -> Float { p[r * rowStride + col * cin] }
        func row(_ t0: Float, _ t1: Float, _ t2: Float, _ t3: Float, _ r: Int) {
            let q = o + 4 * r * xiStride
            (q[0], q[xiStride], q[2 * xiStride], q[3 * xiStride]) = (t0 - t2, t1 + t2, t2 - t1, t1 - t3)
        }
        row(d(0, 0) - d(2, 0), d(0, 1) - d(2, 1), d(0, 2) - d(2, 2), d(0, 3) - d(2, 3), 0)
        row(d(1, 0) + d(2, 0), d(1, 1) + d(2, 1), d(1, 2) + d(2, 2), d(1, 3) + d(2, 3), 1)
        row(d(2, 0) - d(1, 0), d(2, 1) - d(1, 1), d(2, 2) - d(1, 2), d(2, 3) - d(1, 3), 2)
        row(d(1, 0) - d(3, 0), d(1, 1) - d(3, 1), d(1, 2) - d(3, 2), d(1, 3) - d(3, 3), 3)
    }
}

/// M[t][co] = Σ_ci V[t][ci] U[ci][co] for one position ξ: V is [tiles, cin], U [cin, coutPadded],
/// M row t at `to + t * tileStride`. A register block of tiles and sixteen output channels at a
/// time; the last block repeats its last tile and stores only its own.
func winogradProducts(patches: UnsafePointer<Float>, weights: UnsafePointer<Float>, tiles: Int, cin: Int, coutPadded: Int,
                      to: UnsafeMutablePointer<Float>, tileStride: Int) {
    for t0 in stride(from: 0, to: tiles, by: BlockSums.count) {
        let count = min(BlockSums.count, tiles - t0)
        let inputs = blockInputs(count: count) { patches + (t0 + $0) * cin }
        for co0 in stride(from: 0, to: coutPadded, by: 16) {
            var sums = BlockSums(repeating: .zero)
            accumulate(&sums, inputs, 0..<cin, weights: weights + co0, weightStride: coutPadded)
            let o = to + t0 * tileStride + co0
            for j in 0..<count { store16(sums[j], o + j * tileStride) }
        }
    }
}

/// Y = Aᵀ M A + bias for each tile of `tiles` (M row t - tiles.lowerBound is [16 (ξ), coutPadded]
/// at `products`), through the epilogue into its 2x2 block of the [n, outH, outW, cout] output
/// (a block past the last row or column stores only what is inside). One call per chunk: the
/// epilogue's vectors are passed once, not retained per tile.
func winogradOutputTransform(products: UnsafePointer<Float>, tiles: Range<Int>, across: Int, down: Int, outH: Int, outW: Int,
                             bias: UnsafePointer<Float>, cout: Int, coutPadded: Int, epilogue: PreparedEpilogue,
                             to out: UnsafeMutablePointer<Float>) {
    let rowStride = outW * cout
    for tile in tiles {
        let m = products + (tile - tiles.lowerBound) * 16 * coutPadded
        let (b, k) = (tile / (down * across), tile % (down * across))
        let (oy, ox) = (2 * (k / across), 2 * (k % across))
        let to = out + ((b * outH + oy) * outW + ox) * cout
        let (rows, columns) = (min(2, outH - oy), min(2, outW - ox))
        for co0 in stride(from: 0, to: coutPadded, by: 16) {
            @inline(__always) func p(_ xi: Int) -> SIMD16<Float> { load16(m + xi * coutPadded + co0) }
            // Aᵀ M (rows s and r, four columns each), then each row times A.
            let (s0, s1, s2, s3) = (p(0) + p(4) + p(8), p(1) + p(5) + p(9), p(2) + p(6) + p(10), p(3) + p(7) + p(11))
            let (r0, r1, r2, r3) = (p(4) - p(8) - p(12), p(5) - p(9) - p(13), p(6) - p(10) - p(14), p(7) - p(11) - p(15))
            let bv = load16(bias + co0), lanes = min(16, cout - co0), group = co0 / 16
            epilogue.store(s0 + s1 + s2 + bv, group: group, lanes: lanes, to: to + co0)
            if columns > 1 { epilogue.store(s1 - s2 - s3 + bv, group: group, lanes: lanes, to: to + cout + co0) }
            if rows > 1 {
                epilogue.store(r0 + r1 + r2 + bv, group: group, lanes: lanes, to: to + rowStride + co0)
                if columns > 1 { epilogue.store(r1 - r2 - r3 + bv, group: group, lanes: lanes, to: to + rowStride + cout + co0) }
            }
        }
    }
}
