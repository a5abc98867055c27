// A network over a whole image held in memory ([1, H, W, C] network channels), the way the
// streamed renderer does it strip by strip: tiles in batches of `batch` per thread, cores put
// back. Benchmarks and the tests that compare the tiled and region paths use it.

import ConvCore
import Imaging

/// A network over a whole image held in memory, tiled or on the region path (benchmarks and tests).
public enum WholeImage {
    /// The tiled path: tiles in batches of `batch` per thread, cores put back.
    public static func tiled(_ image: Tensor, plan: InferencePlan, pool: WorkerPool, batch: Int = 64) throws -> Tensor {
        let grid = TileGrid(width: image.shape[2], height: image.shape[1])
        let rowsPerPass = max(1, batch * pool.threads / grid.columns)
        var output: Tensor?
        for first in stride(from: 0, to: grid.rows, by: rowsPerPass) {
            let rows = first..<min(first + rowsPerPass, grid.rows)
            let cores = try plan.predict(grid.tiles(of: image, rows: rows), pool: pool)
            if output == nil { output = Tensor(zeros: [1, grid.height, grid.width, cores.shape[3]]) }
            grid.place(cores, rows: rows, into: &output!)
        }
        return output!
    }
}

extension WholeImage {
    /// The region fast path over the same image: the mirror-padded image cut into bands of one
    /// block's tile rows (the full padded width), each split into blocks across the pool
    /// (RegionPlan). Gives the tiled path's output wherever `region` was built.
    public static func region(_ image: Tensor, plan region: RegionPlan, pool: WorkerPool) throws -> Tensor {
        let (height, width, c) = (image.shape[1], image.shape[2], image.shape[3])
        let grid = TileGrid(width: width, height: height)
        let m = TileGrid.outputSize, margin = TileGrid.margin
        let paddedWidth = grid.columns * m + 2 * margin
        var output: Tensor?
        let bandRows = RegionPlan.blockTiles
        for first in stride(from: 0, to: grid.rows, by: bandRows) {
            let rows = first..<min(first + bandRows, grid.rows), bandHeight = rows.count * m + 2 * margin
            let input = Tensor(shape: [1, bandHeight, paddedWidth, c]) { out in
                image.scalars.withUnsafeBufferPointer { source in
                    copyMirrored(rowCount: bandHeight, rows: { source.baseAddress! + mirror(rows.lowerBound * m - margin + $0, height) * width * c },
                                 firstColumn: -margin, columns: paddedWidth, width: width, bands: c, channels: c, into: out)
                }
            }
            let band = try region.predict(input, pool: pool)
            let (k, bandWidth) = (band.shape[3], band.shape[2])
            if output == nil { output = Tensor(zeros: [1, height, width, k]) }
            band.scalars.withUnsafeBufferPointer { bp in
                output!.withUnsafeMutableScalars { out in
                    for y in 0..<min(rows.count * m, height - rows.lowerBound * m) {
                        (out + (rows.lowerBound * m + y) * width * k).update(from: bp.baseAddress! + y * bandWidth * k, count: width * k)
                    }
                }
            }
        }
        return output!
    }
}
