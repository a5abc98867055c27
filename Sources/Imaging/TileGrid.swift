// Tile geometry (DESIGN.md §3): 36-px input tiles overlapping so that each yields only its
// central 16x16 core (a 10-px margin on every side). For a W x H image the grid is ceil(W/16) x
// ceil(H/16) tiles; tile (i, j) reads the image mirror-padded by 10 px, rows 16i ..< 16i+36 and
// columns 16j ..< 16j+36, and its core lands at rows 16i ..< 16i+16, columns 16j ..< 16j+16,
// cropped to the image. Work goes a strip of tile rows at a time (one on the tile path, four on
// the region path), so memory follows the width (TileRenderer does the reading, tiling and
// stitching).

import ConvCore

/// The tile geometry of one image (DESIGN.md §3): 36-px tiles every 16 px, 10-px margins, mirror padding.
public struct TileGrid: Sendable, Equatable {
    public static let inputSize = 36
    public static let outputSize = 16
    public static let margin = 10

    public let width: Int
    public let height: Int

    /// The grid of an image of this size.
    public init(width: Int, height: Int) {
        precondition(width >= 1 && height >= 1, "an image has at least one pixel")
        (self.width, self.height) = (width, height)
    }

    public var columns: Int { (width + Self.outputSize - 1) / Self.outputSize }
    public var rows: Int { (height + Self.outputSize - 1) / Self.outputSize }
    public var tileCount: Int { columns * rows }

    /// Image rows that tile rows `rows` read (before mirroring clamps them into the image).
    public func sourceRows(ofTileRows rows: Range<Int>) -> Range<Int> {
        (rows.lowerBound * Self.outputSize - Self.margin)..<(rows.upperBound * Self.outputSize + Self.margin)
    }
}

/// Tile row `row` of cores laid side by side, [1, 16r, 16c, k], in tile order: [c, 16, 16, k]
/// (core j's row y is the side's row 16 * row + y, columns 16j ..< 16j + 16).
public func tileOrdered(_ side: Tensor, row: Int) -> Tensor {
    let m = TileGrid.outputSize, k = side.shape[3], columns = side.shape[2] / m
    return side.scalars.withUnsafeBufferPointer { sp in
        Tensor(shape: [columns, m, m, k]) { out in
            for t in 0..<(columns * m) {
                let (j, y) = (t / m, t % m)
                (out + (j * m + y) * m * k).update(from: sp.baseAddress! + ((row * m + y) * columns * m + j * m) * k, count: m * k)
            }
        }
    }
}

/// Reflection about the edges without repeating the edge pixel (…, 2, 1, 0, 1, 2, …), periodic
/// so that padding wider than the image still lands inside it; a one-pixel axis repeats.
public func mirror(_ i: Int, _ n: Int) -> Int {
    guard n > 1 else { return 0 }
    let period = 2 * (n - 1)
    let k = ((i % period) + period) % period
    return k < n ? k : period - k
}

/// The one mirror-pad-and-cut: out[y, x, 0 ..< channels] = rows(y)[mirror(firstColumn + x, width)
/// * bands + firstChannel ..< + channels] for y < rowCount, x < columns, where `rows(y)` points at
/// the y-th source row (already mirrored vertically) of `width` pixels of `bands` samples. A
/// window inside the image with every band copied is one contiguous run per row.
public func copyMirrored(rowCount: Int, rows: (Int) -> UnsafePointer<Float>, firstColumn: Int, columns: Int, width: Int,
                         bands: Int, firstChannel: Int = 0, channels: Int, into out: UnsafeMutablePointer<Float>) {
    let inside = firstColumn >= 0 && firstColumn + columns <= width && channels == bands
    // Where each output column reads in a row, mirrored once per call rather than once per row.
    let offsets = inside ? [] : (0..<columns).map { mirror(firstColumn + $0, width) * bands + firstChannel }
    for y in 0..<rowCount {
        let row = rows(y), to = out + y * columns * channels
        if inside {
            to.update(from: row + firstColumn * bands, count: columns * bands)
            continue
        }
        for (x, offset) in offsets.enumerated() {
            for ch in 0..<channels { to[x * channels + ch] = row[offset + ch] }
        }
    }
}

extension TileGrid {
    /// The input tiles of tile rows `rows` of an image held in memory ([1, height, width, c]), as
    /// a batch [tiles, 36, 36, c] in row-major tile order, mirror-padded at the edges.
    public func tiles(of image: Tensor, rows: Range<Int>) -> Tensor {
        let c = image.shape[3], n = Self.inputSize, m = Self.outputSize
        return Tensor(shape: [rows.count * columns, n, n, c]) { out in
            image.scalars.withUnsafeBufferPointer { source in
                for t in 0..<(rows.count * columns) {
                    let (row, column) = (rows.lowerBound + t / columns, t % columns)
                    copyMirrored(rowCount: n, rows: { source.baseAddress! + mirror(row * m - Self.margin + $0, height) * width * c },
                                 firstColumn: column * m - Self.margin, columns: n, width: width, bands: c, channels: c, into: out + t * n * n * c)
                }
            }
        }
    }

    /// Puts the 16x16 cores [tiles, 16, 16, k] of tile rows `rows` into `image` ([1, height,
    /// width, k]), cropped to the image.
    public func place(_ cores: Tensor, rows: Range<Int>, into image: inout Tensor) {
        let k = cores.shape[3], m = Self.outputSize
        image.withUnsafeMutableScalars { dst in
            var t = 0
            for row in rows {
                for column in 0..<columns {
                    for y in 0..<min(m, height - row * m) {
                        let cols = min(m, width - column * m)
                        let from = (t * m + y) * m * k, to = ((row * m + y) * width + column * m) * k
                        for i in 0..<(cols * k) { dst[to + i] = cores.scalars[from + i] }
                    }
                    t += 1
                }
            }
        }
    }
}
