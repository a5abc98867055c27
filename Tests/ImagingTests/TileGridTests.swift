// Tiling and stitching are exact: an identity model (a 10-px crop) run tile by tile gives back
// the image, for sizes that exercise every edge case of the grid.

import ConvCore
import Foundation
@testable import Imaging
import Testing

@Suite struct TileGridTests {
    /// The shipped identity style: a spec that only crops the 10-px margin.
    static let identity = try! Model.load(URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Models/identity.safetensors")).model

    @Test(arguments: [(1, 1), (15, 17), (16, 16), (17, 1000), (1000, 17), (257, 263), (1920, 1080)])
    func identityTilingReproducesTheImage(_ width: Int, _ height: Int) throws {
        var g = SeededGenerator(seed: UInt64(width * 7919 + height))
        let image = Tensor(shape: [1, height, width, 3], scalars: (0..<(width * height * 3)).map { _ in g.nextUnitFloat() })
        let grid = TileGrid(width: width, height: height)
        var output = Tensor(zeros: image.shape)
        for row in 0..<grid.rows {
            let cores = try Self.identity.predict(grid.tiles(ofTileRow: row, from: image))
            grid.place(cores, tileRow: row, into: &output)
        }
        #expect(output == image)
        #expect(grid.tileCount == ((width + 15) / 16) * ((height + 15) / 16))
    }

    @Test func stripsGiveTheSameTilesAsTheWholeImage() {
        var g = SeededGenerator(seed: 3)
        let (w, h) = (40, 70)
        let image = Tensor(shape: [1, h, w, 2], scalars: (0..<(w * h * 2)).map { _ in g.nextUnitFloat() })
        let grid = TileGrid(width: w, height: h)
        for row in 0..<grid.rows {
            // The rows a strip must hold: the mirrored source rows of this tile row.
            let needed = grid.sourceRows(ofTileRow: row).map { mirror($0, h) }
            let first = needed.min()!, last = needed.max()!
            let strip = Tensor(shape: [1, last - first + 1, w, 2],
                               scalars: Array(image.scalars[(first * w * 2)..<((last + 1) * w * 2)]))
            #expect(grid.tiles(ofTileRow: row, from: strip, firstRow: first) == grid.tiles(ofTileRow: row, from: image))
        }
    }

    @Test func mirrorReflectsWithoutRepeatingTheEdge() {
        #expect((-3...6).map { mirror($0, 4) } == [3, 2, 1, 0, 1, 2, 3, 2, 1, 0])
        #expect((-12...12).allSatisfy { mirror($0, 1) == 0 })
        #expect((-12...12).map { mirror($0, 2) } == (-12...12).map { abs($0) % 2 })
    }
}
