// The Conv2D forward kernel for 3x3 stride-1 convolutions: Winograd's minimal filtering (Lavin and
// Gray 2016). An m x m block of outputs is Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A over the (m+2) x (m+2)
// input patch d it reads. F(2x2, 3x3) does 16 multiplications per block, input and output channel
// where the direct kernel does 36 (2.25x fewer); F(4x4, 3x3) does 36 where it does 144 (4x fewer),
// for larger transforms. The kernel is transformed once per block size (U = G g Gᵀ, per input and
// output channel); the input patches and the products are transformed per chunk of blocks. What
// remains is one independent product per position ξ of the transform:
// M[ξ][t][co] = Σ_ci V[ξ][t][ci] U[ξ][ci][co], register-blocked as the direct kernel is
// (RegisterBlock.swift), the inner loop over input channels. Blocks go in chunks small enough
// that V and M stay in the L2 cache. The result equals the direct kernel's up to float rounding.
//
// F(2x2, 3x3), interpolation points 0, 1, -1, ∞:
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   G  = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
//   Aᵀ = [1 1 1 0; 0 1 -1 -1]
// F(4x4, 3x3), points 0, 1, -1, 2, -2, ∞:
//   Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G  = [¼ 0 0; -⅙ -⅙ -⅙; -⅙ ⅙ -⅙; 1/24 1/12 ⅙; 1/24 -1/12 ⅙; 0 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]

/// The output block of a Winograd convolution: F(2x2, 3x3) or F(4x4, 3x3).
enum WinogradBlock: Int, Sendable, CaseIterable {
    case two = 2, four = 4

    /// Outputs per side of a block (m).
    var outputs: Int { rawValue }
    /// Inputs per side of the patch a block reads (m + 2), and positions ξ of the transform.
    var side: Int { rawValue + 2 }
    var positions: Int { side * side }

    /// G, side x 3, row by row.
    var g: [Double] {
        switch self {
        case .two: [1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1]
        case .four: [0.25, 0, 0, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6,
                     1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 24, -1.0 / 12, 1.0 / 6, 0, 0, 1]
        }
    }

    /// The block with the fewer products for an outH x outW map: a ragged last block computes
    /// outputs that are not stored, so a small map keeps the small block.
    static func cheapest(outH: Int, outW: Int) -> WinogradBlock {
        func products(_ b: WinogradBlock) -> Int {
            ((outH + b.outputs - 1) / b.outputs) * ((outW + b.outputs - 1) / b.outputs) * b.positions
        }
        return products(.four) < products(.two) ? .four : .two
    }
}

struct WinogradConvolution: Sendable {
    let cin: Int, cout: Int
    /// Output channels rounded up to a multiple of 16.
    let coutPadded: Int
    /// U = G g Gᵀ per block size: [positions (ξ), cin, coutPadded], zeros in the padding lanes.
    let transformed: [WinogradBlock: AlignedStorage]
    /// Bias [coutPadded].
    let bias: AlignedStorage

    /// Blocks transformed at a time; a multiple of the rows the products block.
    static let chunk = 12

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
        var transformed: [WinogradBlock: AlignedStorage] = [:]
        for block in WinogradBlock.allCases {
            let (side, g) = (block.side, block.g)
            let u = AlignedStorage(count: block.positions * cin * coutPadded)
            for ci in 0..<cin {
                for co in 0..<cout {
                    func w(_ r: Int, _ c: Int) -> Double { Double(kernel.scalars[((r * 3 + c) * cin + ci) * cout + co]) }
                    // U = (G w) Gᵀ, in double so that both block sizes round once.
                    for r in 0..<side {
                        let gw = (0..<3).map { c in (0..<3).reduce(0.0) { $0 + g[r * 3 + $1] * w($1, c) } }
                        for c in 0..<side {
                            let value = (0..<3).reduce(0.0) { $0 + gw[$1] * g[c * 3 + $1] }
                            u.pointer[((r * side + c) * cin + ci) * coutPadded + co] = Float(value)
                        }
                    }
                }
            }
            transformed[block] = u
        }
        self.transformed = transformed
        let packed = AlignedStorage(count: coutPadded)
        for co in 0..<(bias == nil ? 0 : cout) { packed.pointer[co] = bias![co] }
        self.bias = packed
    }

    /// The convolution through `block`, by default the cheapest for the output's size.
    func run(_ x: Tensor, geometry g: KernelGeometry, epilogue: Epilogue, block: WinogradBlock? = nil) -> Tensor {
        precondition(g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1)
        let block = block ?? .cheapest(outH: g.outH, outW: g.outW)
        let n = x.shape[0], m = block.outputs, positions = block.positions
        let (tilesDown, tilesAcross) = ((g.outH + m - 1) / m, (g.outW + m - 1) / m)
        // Every block reads its whole patch: a ragged last row or column of blocks reads rows or
        // columns of zeros, and its missing outputs are not stored.
        let hp = m * tilesDown + 2, wp = m * tilesAcross + 2
        let padded = zeroPadded(x, height: hp, width: wp, top: g.padTop, left: g.padLeft)
        let finish = epilogue.prepared(channels: cout)
        let tiles = n * tilesDown * tilesAcross
        return Tensor(shape: [n, g.outH, g.outW, cout]) { out in
            padded.withUnsafeBufferPointer { input in
                let patchStorage = AlignedStorage(count: positions * Self.chunk * cin)
                let productStorage = AlignedStorage(count: Self.chunk * positions * coutPadded)
                let scratchStorage = AlignedStorage(count: 36 * 16)
                // Plain pointers for the loops: touching the storage objects there would retain them.
                let (source, patches, products) = (input.baseAddress!, patchStorage.pointer, productStorage.pointer)
                let scratch = scratchStorage.pointer
                let (weights, bias) = (transformed[block]!.pointer, self.bias.pointer)
                let (cin, cout, coutPadded, chunk) = (cin, cout, coutPadded, Self.chunk)
                for t0 in stride(from: 0, to: tiles, by: chunk) {
                    let count = min(chunk, tiles - t0)
                    for t in 0..<count {
                        let tile = t0 + t, b = tile / (tilesDown * tilesAcross), k = tile % (tilesDown * tilesAcross)
                        let origin = source + ((b * hp + m * (k / tilesAcross)) * wp + m * (k % tilesAcross)) * cin
                        switch block {
                        case .two: winogradInputTransform2(patch: origin, rowStride: wp * cin, cin: cin, to: patches + t * cin, xiStride: chunk * cin)
                        case .four: winogradInputTransform4(patch: origin, rowStride: wp * cin, cin: cin, to: patches + t * cin, xiStride: chunk * cin,
                                                            scratch: scratch)
                        }
                    }
                    for xi in 0..<positions {
                        winogradProducts(patches: patches + xi * chunk * cin, weights: weights + xi * cin * coutPadded,
                                         tiles: count, cin: cin, coutPadded: coutPadded, to: products + xi * coutPadded,
                                         tileStride: positions * coutPadded)
                    }
                    let layout = WinogradOutputLayout(tiles: t0..<(t0 + count), across: tilesAcross, down: tilesDown,
                                                      outH: g.outH, outW: g.outW, cout: cout, coutPadded: coutPadded)
                    switch block {
                    case .two: winogradOutputTransform2(products: products, layout, bias: bias, epilogue: finish, to: out)
                    case .four: winogradOutputTransform4(products: products, layout, bias: bias, epilogue: finish, scratch: scratch, to: out)
                    }
                }
            }
        }
    }
}

/// What the transforms compute on: sixteen channels at a time, or one (the last channels of a
/// count that is not a multiple of 16).
protocol WinogradLane {
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Float, b: Self) -> Self
    static var width: Int { get }
    static func load(_ p: UnsafePointer<Float>) -> Self
    func store(_ p: UnsafeMutablePointer<Float>)
}

extension Float: WinogradLane {
    static var width: Int { 1 }
    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> Float { p.pointee }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { p.pointee = self }
}

extension SIMD16<Float>: WinogradLane {
    static var width: Int { 16 }
    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> { load16(p) }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { store16(self, p) }
}

/// Bᵀ for F(2x2, 3x3) on one column (or row) of four.
@inline(__always)
func winogradBT2<L: WinogradLane>(_ d0: L, _ d1: L, _ d2: L, _ d3: L) -> (L, L, L, L) {
    (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
}

/// Bᵀ for F(4x4, 3x3) on one column (or row) of six.
@inline(__always)
func winogradBT4<L: WinogradLane>(_ d0: L, _ d1: L, _ d2: L, _ d3: L, _ d4: L, _ d5: L) -> (L, L, L, L, L, L) {
    let a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1)
    return (4 * d0 - 5 * d2 + d4, a + b, a - b, c + e, c - e, 4 * d1 - 5 * d3 + d5)
}

/// Aᵀ for F(4x4, 3x3) on one column (or row) of six.
@inline(__always)
func winogradAT4(_ m0: SIMD16<Float>, _ m1: SIMD16<Float>, _ m2: SIMD16<Float>, _ m3: SIMD16<Float>, _ m4: SIMD16<Float>,
                 _ m5: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    let p = m1 + m2, q = m1 - m2, r = m3 + m4, s = m3 - m4
    return (m0 + p + r, q + 2 * s, p + 4 * r, q + 8 * s + m5)
}

/// V = Bᵀ d B for the 4x4 patch d at `patch` (rows `rowStride` floats apart, pixels `cin` apart):
/// V[ξ][c] goes to `to + ξ * xiStride + c`. A row of Bᵀ d is two of d's rows combined, and each
/// row of V comes from one row of Bᵀ d, straight from the loads, so no more than eight vectors
/// are live (AVX2 holds a SIMD16 in two registers).
@inline(__always)
func winogradInputTransform2(patch: UnsafePointer<Float>, rowStride: Int, cin: Int, to: UnsafeMutablePointer<Float>, xiStride: Int) {
    @inline(__always) func channels<L: WinogradLane>(_: L.Type, _ c: Int) {
        let p = patch + c, o = to + c
        @inline(__always) func d(_ r: Int, _ col: Int) -> L { L.load(p + r * rowStride + col * cin) }
        @inline(__always) func row(_ t: (L, L, L, L), _ r: Int) {
            let v = winogradBT2(t.0, t.1, t.2, t.3), q = o + 4 * r * xiStride
            v.0.store(q); v.1.store(q + xiStride); v.2.store(q + 2 * xiStride); v.3.store(q + 3 * xiStride)
        }
        row((d(0, 0) - d(2, 0), d(0, 1) - d(2, 1), d(0, 2) - d(2, 2), d(0, 3) - d(2, 3)), 0)
        row((d(1, 0) + d(2, 0), d(1, 1) + d(2, 1), d(1, 2) + d(2, 2), d(1, 3) + d(2, 3)), 1)
        row((d(2, 0) - d(1, 0), d(2, 1) - d(1, 1), d(2, 2) - d(1, 2), d(2, 3) - d(1, 3)), 2)
        row((d(1, 0) - d(3, 0), d(1, 1) - d(3, 1), d(1, 2) - d(3, 2), d(1, 3) - d(3, 3)), 3)
    }
    var c = 0
    while c + 16 <= cin { channels(SIMD16<Float>.self, c); c += 16 }
    while c < cin { channels(Float.self, c); c += 1 }
}

/// V = Bᵀ d B for the 6x6 patch d at `patch`, laid out as for F(2x2, 3x3): d B row by row into
/// `scratch` (36 x 16 floats), then Bᵀ down each of its columns into V.
@inline(__always)
func winogradInputTransform4(patch: UnsafePointer<Float>, rowStride: Int, cin: Int, to: UnsafeMutablePointer<Float>, xiStride: Int,
                             scratch: UnsafeMutablePointer<Float>) {
    @inline(__always) func channels<L: WinogradLane>(_: L.Type, _ c: Int) {
        let p = patch + c, o = to + c, w = L.width
        @inline(__always) func d(_ r: Int, _ col: Int) -> L { L.load(p + r * rowStride + col * cin) }
        @inline(__always) func s(_ r: Int, _ col: Int) -> UnsafeMutablePointer<Float> { scratch + (r * 6 + col) * w }
        for r in 0..<6 {
            let t = winogradBT4(d(r, 0), d(r, 1), d(r, 2), d(r, 3), d(r, 4), d(r, 5))
            t.0.store(s(r, 0)); t.1.store(s(r, 1)); t.2.store(s(r, 2)); t.3.store(s(r, 3)); t.4.store(s(r, 4)); t.5.store(s(r, 5))
        }
        for col in 0..<6 {
            let v = winogradBT4(L.load(s(0, col)), L.load(s(1, col)), L.load(s(2, col)), L.load(s(3, col)),
                                L.load(s(4, col)), L.load(s(5, col)))
            let q = o + col * xiStride, row = 6 * xiStride
            v.0.store(q); v.1.store(q + row); v.2.store(q + 2 * row); v.3.store(q + 3 * row); v.4.store(q + 4 * row); v.5.store(q + 5 * row)
        }
    }
    var c = 0
    while c + 16 <= cin { channels(SIMD16<Float>.self, c); c += 16 }
    while c < cin { channels(Float.self, c); c += 1 }
}

/// M[t][co] = Σ_ci V[t][ci] U[ci][co] for one position ξ: V is [tiles, cin], U [cin, coutPadded],
/// M row t at `to + t * tileStride`. A register block of tiles and sixteen output channels at a
/// time; the last block repeats its last tile and stores only its own.
func winogradProducts(patches: UnsafePointer<Float>, weights: UnsafePointer<Float>, tiles: Int, cin: Int, coutPadded: Int,
                      to: UnsafeMutablePointer<Float>, tileStride: Int) {
    for t0 in stride(from: 0, to: tiles, by: BlockSums.count) {
        let count = min(BlockSums.count, tiles - t0)
        let inputs = blockInputs(count: count) { patches + (t0 + $0) * cin }
        // 32 channels a pass where pairs of sums fit in the registers (RegisterBlock.swift), else 16.
        var co0 = 0
        while co0 < coutPadded {
            let o = to + t0 * tileStride + co0
            if pairsChannelGroups && co0 + 32 <= coutPadded {
                var sums = BlockSumsPair(low: BlockSums(repeating: .zero), high: BlockSums(repeating: .zero))
                accumulate(&sums, inputs, 0..<cin, weights: weights + co0, weightStride: coutPadded)
                for j in 0..<count { store16(sums.low[j], o + j * tileStride); store16(sums.high[j], o + j * tileStride + 16) }
                co0 += 32
            } else {
                var sums = BlockSums(repeating: .zero)
                accumulate(&sums, inputs, 0..<cin, weights: weights + co0, weightStride: coutPadded)
                for j in 0..<count { store16(sums[j], o + j * tileStride) }
                co0 += 16
            }
        }
    }
}

/// Where a chunk's blocks go in the [n, outH, outW, cout] output: M row t - tiles.lowerBound is
/// [positions (ξ), coutPadded] at the products.
struct WinogradOutputLayout {
    let tiles: Range<Int>
    let across: Int, down: Int, outH: Int, outW: Int, cout: Int, coutPadded: Int

    /// The block's first output and how many of its rows and columns are inside the map.
    @inline(__always)
    func place(_ tile: Int, outputs m: Int, in out: UnsafeMutablePointer<Float>) -> (UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        let (b, k) = (tile / (down * across), tile % (down * across))
        let (oy, ox) = (m * (k / across), m * (k % across))
        return (out + ((b * outH + oy) * outW + ox) * cout, min(m, outH - oy), min(m, outW - ox))
    }
}

/// Y = Aᵀ M A + bias for each block of the chunk (F(2x2, 3x3)), through the epilogue into its 2x2
/// of the output (a block past the last row or column stores only what is inside). One call per
/// chunk: the epilogue's vectors are passed once, not retained per block.
func winogradOutputTransform2(products: UnsafePointer<Float>, _ layout: WinogradOutputLayout, bias: UnsafePointer<Float>,
                              epilogue: PreparedEpilogue, to out: UnsafeMutablePointer<Float>) {
    let (cout, coutPadded) = (layout.cout, layout.coutPadded), rowStride = layout.outW * cout
    for tile in layout.tiles {
        let m = products + (tile - layout.tiles.lowerBound) * 16 * coutPadded
        let (to, rows, columns) = layout.place(tile, outputs: 2, in: out)
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

/// Y = Aᵀ M A + bias for each block of the chunk (F(4x4, 3x3)) into its 4x4 of the output: M A
/// row by row into `scratch` (24 x 16 floats), then Aᵀ down each column, through the epilogue.
func winogradOutputTransform4(products: UnsafePointer<Float>, _ layout: WinogradOutputLayout, bias: UnsafePointer<Float>,
                              epilogue: PreparedEpilogue, scratch: UnsafeMutablePointer<Float>, to out: UnsafeMutablePointer<Float>) {
    let (cout, coutPadded) = (layout.cout, layout.coutPadded), rowStride = layout.outW * cout
    for tile in layout.tiles {
        let m = products + (tile - layout.tiles.lowerBound) * 36 * coutPadded
        let (to, rows, columns) = layout.place(tile, outputs: 4, in: out)
        for co0 in stride(from: 0, to: coutPadded, by: 16) {
            @inline(__always) func p(_ r: Int, _ c: Int) -> SIMD16<Float> { load16(m + (r * 6 + c) * coutPadded + co0) }
            @inline(__always) func z(_ r: Int, _ c: Int) -> UnsafeMutablePointer<Float> { scratch + (r * 4 + c) * 16 }
            for r in 0..<6 {
                let t = winogradAT4(p(r, 0), p(r, 1), p(r, 2), p(r, 3), p(r, 4), p(r, 5))
                store16(t.0, z(r, 0)); store16(t.1, z(r, 1)); store16(t.2, z(r, 2)); store16(t.3, z(r, 3))
            }
            let bv = load16(bias + co0), lanes = min(16, cout - co0), group = co0 / 16
            for c in 0..<columns {
                let y = winogradAT4(load16(z(0, c)), load16(z(1, c)), load16(z(2, c)), load16(z(3, c)), load16(z(4, c)), load16(z(5, c)))
                let o = to + c * cout + co0
                epilogue.store(y.0 + bv, group: group, lanes: lanes, to: o)
                if rows > 1 { epilogue.store(y.1 + bv, group: group, lanes: lanes, to: o + rowStride) }
                if rows > 2 { epilogue.store(y.2 + bv, group: group, lanes: lanes, to: o + 2 * rowStride) }
                if rows > 3 { epilogue.store(y.3 + bv, group: group, lanes: lanes, to: o + 3 * rowStride) }
            }
        }
    }
}
