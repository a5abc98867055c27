// A network over a whole image held in memory ([1, H, W, C] network channels), the way the
// streamed renderer does it strip by strip: tiles in batches of `batch` per thread, cores put
// back. Benchmarks and the tests that compare the tiled and region paths use it.

import ConvCore
import Imaging

public enum WholeImage {
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
