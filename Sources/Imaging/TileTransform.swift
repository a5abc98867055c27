// What the imaging pipeline asks of a style: input tiles in, 16x16 cores out; and, for a style
// whose network qualifies for the region fast path (DESIGN.md §4), a whole strip of tiles at once.

import ConvCore

/// What the imaging pipeline asks of a style: tiles in, cores out, and optionally whole strips.
public protocol TileTransform: Sendable {
    /// The colour bands produced for an image with `colourBands` (1 grey, 3 RGB).
    func outputBands(forColourBands colourBands: Int) -> Int
    /// The tiles of tile row `tileRow`, [columns, 36, 36, colourBands] in [0, 1] -> their cores
    /// [columns, 16, 16, outputBands] in [0, 1] (clamped later).
    func apply(_ tiles: Tensor, tileRow: Int) throws -> Tensor
    /// Whether `applyRegion` gives what `apply` gives for the tiles a strip covers.
    var handlesRegions: Bool { get }
    /// A strip of r tile rows from `firstTileRow`, [1, 16r + 20, 16c + 20, colourBands] (margins
    /// included) -> its cores side by side, [1, 16r, 16c, outputBands].
    func applyRegion(_ strip: Tensor, firstTileRow: Int) throws -> Tensor
}

extension TileTransform {
    public var handlesRegions: Bool { false }
    /// Transforms that work on tiles only refuse strips.
    public func applyRegion(_ strip: Tensor, firstTileRow: Int) throws -> Tensor { throw ModelError("this transform works on tiles only") }
}
