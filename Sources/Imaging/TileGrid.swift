// Tile geometry (DESIGN.md §3): 36-px input tiles overlapping so that each yields only its
// central 16x16 core (a 10-px margin on every side). For a W x H image the grid is ceil(W/16) x
// ceil(H/16) tiles; tile (i, j) reads the image mirror-padded by 10 px, rows 16i ..< 16i+36 and
// columns 16j ..< 16j+36, and its core lands at rows 16i ..< 16i+16, columns 16j ..< 16j+16,
// cropped to the image. Work goes one tile row (a strip) at a time, so memory follows the width
// (TileRenderer does the reading, tiling and stitching).

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
}

/// Reflection about the edges without repeating the edge pixel (…, 2, 1, 0, 1, 2, …), periodic
/// so that padding wider than the image still lands inside it; a one-pixel axis repeats.
func mirror(_ i: Int, _ n: Int) -> Int {
    guard n > 1 else { return 0 }
    let period = 2 * (n - 1)
    let k = ((i % period) + period) % period
    return k < n ? k : period - k
}
