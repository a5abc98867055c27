// Training and validation tiles from pairs: 36x36 input windows and the 16x16 target cores at
// their centres, in image colour ([0, 1], the pair's bands), then through the style's colour
// handling into what the network takes and should return.

import ConvCore
import Imaging
import Styles

struct TileBatch: Sendable {
    /// [n, 36, 36, network input channels]
    let inputs: Tensor
    /// [n, 16, 16, network output channels]
    let targets: Tensor
    /// The same tiles in image colour, for pictures of them.
    let imageInputs: Tensor
    let imageTargets: Tensor
    /// Each tile's weight in the mean loss (its pair's, PairBalance), nil: all equal.
    var weights: [Float]? = nil
}

struct TileSampler: Sendable {
    let pairs: [Pair]
    let colour: ColourHandling
    let augment: Bool
    let seed: UInt64
    /// Window positions per pair (the chance of drawing from a pair is its share of them).
    private let positions: [Int]
    /// The pairs' weights (PairBalance): the chance of drawing from a pair is its share of
    /// positions times weight instead.
    private let weights: [Double]?

    static let n = TileGrid.inputSize, m = TileGrid.outputSize, margin = TileGrid.margin

    init(pairs: [Pair], colour: ColourHandling, augment: Bool, seed: UInt64, weights: [Double]? = nil) {
        (self.pairs, self.colour, self.augment, self.seed, self.weights) = (pairs, colour, augment, seed, weights)
        positions = pairs.map { ($0.input.width - Self.n + 1) * ($0.input.height - Self.n + 1) }
    }

    /// The batch of training step `step` (counted from 0): random windows, each flipped and
    /// rotated by one of the eight symmetries of the square unless augmentation is off. It
    /// depends only on the seed and the step, so a resumed run draws the batches it would have.
    func batch(step: Int, size: Int) -> TileBatch {
        var generator = SeededGenerator(seed: seed ^ (UInt64(step) &* 0xD1B5_4A32_D192_ED03))
        _ = generator.next()
        let total = positions.reduce(0, +)
        let shares = weights.map { w in zip(positions, w).map { Double($0) * $1 } }, sharesTotal = shares?.reduce(0, +) ?? 0
        let windows = (0..<size).map { _ -> Window in
            var k: Int, p = 0
            if let shares {
                var u = Double(generator.next() >> 11) / Double(1 << 53) * sharesTotal
                while p < shares.count - 1 && u >= shares[p] { u -= shares[p]; p += 1 }
                k = Int(generator.next() % UInt64(positions[p]))
            } else {
                k = Int(generator.next() % UInt64(total))
                while k >= positions[p] { k -= positions[p]; p += 1 }
            }
            let across = pairs[p].input.width - Self.n + 1
            return Window(pair: p, x: k % across, y: k / across, symmetry: augment ? Int(generator.next() % 8) : 0)
        }
        return tiles(windows)
    }

    /// Fixed validation tiles: windows on a regular grid over each pair, at most `limit` in all,
    /// spread evenly over the pairs, no augmentation.
    func validation(limit: Int) -> TileBatch? {
        guard !pairs.isEmpty else { return nil }
        let perPair = max(1, limit / pairs.count)
        var windows: [Window] = []
        for (p, pair) in pairs.enumerated() {
            let across = (pair.input.width - Self.n) / Self.m + 1, down = (pair.input.height - Self.n) / Self.m + 1
            let all = across * down, every = max(1, all / perPair)
            for i in stride(from: 0, to: all, by: every).prefix(perPair) {
                windows.append(Window(pair: p, x: i % across * Self.m, y: i / across * Self.m, symmetry: 0))
            }
        }
        var batch = tiles(windows)
        batch.weights = weights.map { w in windows.map { Float(w[$0.pair]) } }
        return batch
    }

    private struct Window { let pair: Int, x: Int, y: Int, symmetry: Int }

    private func tiles(_ windows: [Window]) -> TileBatch {
        let inBands = pairs.map(\.input.bands).max()!, outBands = pairs.map(\.target.bands).max()!
        var inputs = [Float](), targets = [Float]()
        inputs.reserveCapacity(windows.count * Self.n * Self.n * inBands)
        targets.reserveCapacity(windows.count * Self.m * Self.m * outBands)
        for w in windows {
            let pair = pairs[w.pair]
            Self.append(pair.input, x: w.x, y: w.y, size: Self.n, bands: inBands, symmetry: w.symmetry, to: &inputs)
            Self.append(pair.target, x: w.x + Self.margin, y: w.y + Self.margin, size: Self.m, bands: outBands,
                        symmetry: w.symmetry, to: &targets)
        }
        let imageInputs = Tensor(shape: [windows.count, Self.n, Self.n, inBands], scalars: inputs)
        let imageTargets = Tensor(shape: [windows.count, Self.m, Self.m, outBands], scalars: targets)
        return TileBatch(inputs: colour.networkInput(imageInputs), targets: colour.networkTarget(imageTargets),
                         imageInputs: imageInputs, imageTargets: imageTargets)
    }

    /// A size x size window at (x, y), transformed by symmetry s (bit 0: transpose, bit 1: flip
    /// rows, bit 2: flip columns; the window's centre stays put, so input and target agree); grey
    /// is repeated when the batch is colour.
    private static func append(_ image: PairImage, x: Int, y: Int, size: Int, bands: Int, symmetry s: Int, to out: inout [Float]) {
        let last = size - 1
        for i in 0..<size {
            for j in 0..<size {
                var (r, c) = s & 1 == 0 ? (i, j) : (j, i)
                if s & 2 != 0 { r = last - r }
                if s & 4 != 0 { c = last - c }
                let at = ((y + r) * image.width + x + c) * image.bands
                for k in 0..<bands { out.append(Float(image.samples[at + min(k, image.bands - 1)]) / 65535) }
            }
        }
    }
}
