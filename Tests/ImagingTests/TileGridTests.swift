// Tile geometry (DESIGN.md §3): grid size, the rows a tile row reads, mirror padding.

@testable import Imaging
import Testing

@Suite struct TileGridTests {
    @Test func gridCoversTheImageInSixteenPixelCores() {
        for (w, h) in [(1, 1), (16, 16), (17, 1000), (1920, 1080)] {
            let grid = TileGrid(width: w, height: h)
            #expect(grid.columns == (w + 15) / 16 && grid.rows == (h + 15) / 16)
            #expect(grid.tileCount == grid.columns * grid.rows)
        }
        #expect(TileGrid(width: 40, height: 40).sourceRows(ofTileRows: 2..<3) == 22..<58 && TileGrid(width: 40, height: 40).sourceRows(ofTileRows: 0..<2) == -10..<42)
    }

    @Test func mirrorReflectsWithoutRepeatingTheEdge() {
        #expect((-3...6).map { mirror($0, 4) } == [3, 2, 1, 0, 1, 2, 3, 2, 1, 0])
        #expect((-12...12).allSatisfy { mirror($0, 1) == 0 })
        #expect((-12...12).map { mirror($0, 2) } == (-12...12).map { abs($0) % 2 })
    }
}
