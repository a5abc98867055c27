// How fast the conv core runs a model here, against the machine's own measured fp32 peak: tiles
// per second at several batch sizes, a whole image through the tiled path, through whole 36x36
// tiles and through the region path, and optionally training steps. `tessera bench` prints the
// report; the rates are the best of three timed windows after a warm-up run.

import ConvCore
import Foundation
import Imaging

/// What `tessera bench` measures, as a library: build one, set its knobs, run it on a model.
public struct Benchmark: Sendable {
    public var threads: Int
    /// Also time training steps (Adam, MSE) at batch 32 and 64.
    public var train = false
    /// Seconds each rate is timed over (the best of three such runs is kept).
    public var secondsPerRate: Double = 1
    /// Side of the square image the whole-image paths run on.
    public var imageSide = 2048

    /// A benchmark on `threads` threads with the default timing.
    public init(threads: Int) { self.threads = threads }

    /// What one run measured.
    public struct Report: EncodesNulls, Sendable {
        public var model: String
        public var threads: Int
        public var multiplyAddsPerTile: Int
        /// What the plan computes per tile: fewer when tile windows trim the maps.
        public var computedMultiplyAddsPerTile: Int
        public var tilesPerS: [String: Double]
        public var tiledMpPerS: Double
        /// The tiled path computing whole 36x36 tiles (no tile windows): the reference tiling's cost.
        public var wholeTilesMpPerS: Double
        public var regionMpPerS: Double?
        /// Multiply-adds per output pixel: what the tiled path computes, and the region path.
        public var tiledMultiplyAddsPerPixel: Double
        public var wholeTilesMultiplyAddsPerPixel: Double
        public var regionMultiplyAddsPerPixel: Double?
        /// Largest difference between the region and tiled outputs of the same image.
        public var regionMaxDifference: Float?
        /// Why the model has no region path, when it has none.
        public var regionRefusal: String?
        public var gflops: Double
        public var peakGflops: Double
        public var peakGflopsOneThread: Double
        public var peakFraction: Double
        public var peakRssMb: Double
        public var trainTilesPerS: [String: Double]?
        /// The per-sample input shape the tiles had.
        public var tileShape: [Int]
        public var imageSide: Int

    }

    /// Measures `model` (seconds to a minute at the default timing).
    public func run(_ model: Model) throws -> Report {
        let inputShape = model.summary.layers.first!.outputShape.dropFirst().map { $0 ?? TileGrid.inputSize }
        let plan = InferencePlan(model)
        let pool = WorkerPool.shared(threads: threads)
        let peakOne = MachinePeak.measure(pool: .shared(threads: 1))
        let peak = threads == 1 ? peakOne : MachinePeak.measure(pool: pool)

        var tilesPerS: [String: Double] = [:]
        for batch in [1, 16, 64, 256] {
            let x = Self.random([batch] + inputShape, seed: UInt64(batch))
            tilesPerS["\(batch)"] = try Double(batch) * bestRate { _ = try plan.predict(x, pool: pool) }
        }
        let macs = model.multiplyAdds, computed = plan.multiplyAdds
        let gflops = tilesPerS["256"]! * Double(computed) * 2 / 1e9

        let image = Self.random([1, imageSide, imageSide, inputShape[2]], seed: 7)
        let (tiledMP, tiled) = try megapixelsPerSecond { try WholeImage.tiled(image, plan: plan, pool: pool) }
        let wholeTiles = InferencePlan(model, tileWindows: false)
        let (wholeTilesMP, _) = try megapixelsPerSecond { try WholeImage.tiled(image, plan: wholeTiles, pool: pool) }
        var regionMP: Double?, regionDifference: Float?, regionMacs: Double?, refusal: String?
        do {
            let region = try RegionPlan(model)
            let (mp, fast) = try megapixelsPerSecond { try WholeImage.region(image, plan: region, pool: pool) }
            regionMP = mp
            regionDifference = fast.maxAbsDifference(tiled)
            regionMacs = try region.multiplyAddsPerOutputPixel()
        } catch {
            refusal = "\(error)"
        }
        let corePixels = Double(TileGrid.outputSize * TileGrid.outputSize)

        var trainTilesPerS: [String: Double]?
        if train {
            trainTilesPerS = [:]
            for batch in [32, 64] {
                let x = Self.random([batch] + inputShape, seed: 3), target = try plan.predict(Self.random([batch] + inputShape, seed: 4), pool: pool)
                var trainer = Trainer(model: model, optimizer: .adam(), loss: .mse)
                trainTilesPerS!["\(batch)"] = try Double(batch) * bestRate { try trainer.step(inputs: [x], targets: [target], pool: pool) }
            }
        }

        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Report(model: model.name, threads: threads, multiplyAddsPerTile: macs, computedMultiplyAddsPerTile: computed,
                      tilesPerS: tilesPerS, tiledMpPerS: tiledMP, wholeTilesMpPerS: wholeTilesMP, regionMpPerS: regionMP,
                      tiledMultiplyAddsPerPixel: Double(computed) / corePixels, wholeTilesMultiplyAddsPerPixel: Double(macs) / corePixels,
                      regionMultiplyAddsPerPixel: regionMacs, regionMaxDifference: regionDifference, regionRefusal: refusal,
                      gflops: gflops, peakGflops: peak / 1e9, peakGflopsOneThread: peakOne / 1e9, peakFraction: gflops / (peak / 1e9),
                      peakRssMb: Double(usage.ru_maxrss) / 1024, trainTilesPerS: trainTilesPerS, tileShape: inputShape, imageSide: imageSide)
    }

    /// MP/s of the best of three runs, and the last output.
    private func megapixelsPerSecond(_ body: () throws -> Tensor) rethrows -> (Double, Tensor) {
        var best = Double.infinity, output: Tensor?
        for _ in 0..<3 {
            let start = Date()
            output = try body()
            best = min(best, Date().timeIntervalSince(start))
        }
        return (Double(imageSide * imageSide) / 1e6 / best, output!)
    }

    /// Runs per second of `body`, after one warm-up run: the best of three timed runs, as
    /// Benchmarks/compare.py times its peers (the two vCPUs here are sometimes busy).
    private func bestRate(_ body: () throws -> Void) rethrows -> Double {
        try body()
        var best = 0.0
        for _ in 0..<3 {
            var runs = 0
            let start = Date()
            repeat {
                try body()
                runs += 1
            } while Date().timeIntervalSince(start) < secondsPerRate
            best = max(best, Double(runs) / Date().timeIntervalSince(start))
        }
        return best
    }

    private static func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in g.nextUnitFloat() })
    }
}
