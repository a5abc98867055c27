// What the imaging pipeline asks of a style: input tiles in, 16x16 cores out.

import ConvCore

public protocol TileTransform: Sendable {
    /// The colour bands produced for an image with `colourBands` (1 grey, 3 RGB).
    func outputBands(forColourBands colourBands: Int) -> Int
    /// [n, 36, 36, colourBands] in [0, 1] -> [n, 16, 16, outputBands] in [0, 1] (clamped later).
    func apply(_ tiles: Tensor) throws -> Tensor
}
