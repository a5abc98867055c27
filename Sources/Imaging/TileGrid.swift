// Tile geometry (DESIGN.md §3): 36-px input tiles overlapping so that each yields only its
// central 16x16 core (a 10-px margin on every side). For a W x H image the grid is ceil(W/16) x
// ceil(H/16) tiles; tile (i, j) reads the image mirror-padded by 10 px, rows 16i ..< 16i+36 and
// columns 16j ..< 16j+36, and its core lands at rows 16i ..< 16i+16, columns 16j ..< 16j+16,
// cropped to the image. Work goes one tile row (a strip) at a time, so memory follows the width.

import ConvCore

public struct TileGrid: Sendable, Equatable {
    public static let inputSize = 36
    public static let outputSize = 16
    public static let margin = 10

    public let width: Int
    public let height: Int

    public init(width: Int, height: Int) {
        precondition(width >= 1 && height >= 1, "an image has at least one pixel")
        (self.width, self.height) = (width, height)
    }

    public var columns: Int { (width + Self.outputSize - 1) / Self.outputSize }
    public var rows: Int { (height + Self.outputSize - 1) / Self.outputSize }
    public var tileCount: Int { columns * rows }

    /// Image rows that tile row `row` reads (before mirroring clamps them into the image).
    public func sourceRows(ofTileRow row: Int) -> Range<Int> {
        (row * Self.outputSize - Self.margin)..<(row * Self.outputSize - Self.margin + Self.inputSize)
    }

    /// The input tiles of one tile row, [columns, 36, 36, c], from an image [1, h, w, c] whose
    /// first row is image row `firstRow` (a strip that covers `sourceRows` after mirroring).
    public func tiles(ofTileRow row: Int, from strip: Tensor, firstRow: Int = 0) -> Tensor {
        let (_, stripHeight, w, c) = (strip.shape[0], strip.shape[1], strip.shape[2], strip.shape[3])
        precondition(w == width, "the strip is \(w) wide, the grid \(width)")
        let n = Self.inputSize
        var out = Tensor(zeros: [columns, n, n, c])
        let sourceRows = self.sourceRows(ofTileRow: row).map { mirror($0, height) - firstRow }
        precondition(sourceRows.allSatisfy { $0 >= 0 && $0 < stripHeight }, "the strip does not cover tile row \(row)")
        let sourceColumns = (-Self.margin..<(columns * Self.outputSize - Self.margin + n)).map { mirror($0, width) }
        strip.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                for j in 0..<columns {
                    for (y, sy) in sourceRows.enumerated() {
                        for x in 0..<n {
                            let from = (sy * width + sourceColumns[j * Self.outputSize + x]) * c
                            let to = ((j * n + y) * n + x) * c
                            for ch in 0..<c { dst[to + ch] = src[from + ch] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Writes one tile row's 16x16 cores, [columns, 16, 16, c], into an output strip
    /// [1, rows, width, c] whose first row is image row `firstRow`; cores past the image are cropped.
    public func place(_ cores: Tensor, tileRow row: Int, into strip: inout Tensor, firstRow: Int = 0) {
        let m = Self.outputSize, c = cores.shape[3]
        precondition(cores.shape == [columns, m, m, c] && strip.shape[2] == width && strip.shape[3] == c)
        for j in 0..<columns {
            for y in 0..<m {
                let iy = row * m + y - firstRow
                guard row * m + y < height, iy >= 0, iy < strip.shape[1] else { continue }
                let cols = min(m, width - j * m)
                let from = ((j * m + y) * m) * c
                let to = (iy * width + j * m) * c
                strip.scalars.replaceSubrange(to..<(to + cols * c), with: cores.scalars[from..<(from + cols * c)])
            }
        }
    }
}

/// Reflection about the edges without repeating the edge pixel (…, 2, 1, 0, 1, 2, …), periodic
/// so that padding wider than the image still lands inside it; a one-pixel axis repeats.
func mirror(_ i: Int, _ n: Int) -> Int {
    guard n > 1 else { return 0 }
    let period = 2 * (n - 1)
    let k = ((i % period) + period) % period
    return k < n ? k : period - k
}
