// `tessera bench`: how fast the conv core runs a model here, against the machine's own measured
// fp32 peak. A spec gets seeded random weights (speed does not depend on their values).

import ArgumentParser
import ConvCore
import Foundation
import Imaging
import Styles

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure tiles/s, MP/s and GFLOP/s of a model (build with -c release).")

    @Option(help: "A JSON model spec or a .safetensors model file.") var spec: String?
    @Option(help: "A style name from the models folder, or a style file.") var style: String?
    @Option(help: "The models folder for --style.") var models = "Models"
    @Option(help: "Threads (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Also measure training (Adam, MSE) tiles/s at batch 32 and 64.") var train = false
    @Flag(help: "One JSON object.") var json = false

    func validate() throws {
        guard (spec == nil) != (style == nil) else { throw ValidationError("give exactly one of --spec or --style") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    struct Report: Encodable {
        var model: String
        var threads: Int
        var multiplyAddsPerTile: Int
        /// What the plan computes per tile: fewer when tile windows trim the maps.
        var computedMultiplyAddsPerTile: Int
        var tilesPerS: [String: Double]
        var tiledMpPerS: Double
        /// The tiled path computing whole 36x36 tiles (no tile windows): the reference tiling's cost.
        var wholeTilesMpPerS: Double
        var regionMpPerS: Double?
        /// Multiply-adds per output pixel: what the tiled path computes, and the region path.
        var tiledMultiplyAddsPerPixel: Double
        var regionMultiplyAddsPerPixel: Double?
        /// Largest difference between the region and tiled outputs of the same image.
        var regionMaxDifference: Float?
        var gflops: Double
        var peakGflops: Double
        var peakGflopsOneThread: Double
        var peakFraction: Double
        var peakRssMb: Double
        var trainTilesPerS: [String: Double]?

        /// Every key always present (null when there is no region path), as scripts expect.
        func encode(to encoder: any Encoder) throws {
            enum Key: String, CodingKey {
                case model, threads, multiplyAddsPerTile, computedMultiplyAddsPerTile, tilesPerS, tiledMpPerS, regionMpPerS, regionMaxDifference
                case wholeTilesMpPerS, tiledMultiplyAddsPerPixel, regionMultiplyAddsPerPixel
                case gflops, peakGflops, peakGflopsOneThread, peakFraction, peakRssMb, trainTilesPerS
            }
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(model, forKey: .model)
            try c.encode(threads, forKey: .threads)
            try c.encode(multiplyAddsPerTile, forKey: .multiplyAddsPerTile)
            try c.encode(computedMultiplyAddsPerTile, forKey: .computedMultiplyAddsPerTile)
            try c.encode(tilesPerS, forKey: .tilesPerS)
            try c.encode(tiledMpPerS, forKey: .tiledMpPerS)
            try c.encode(wholeTilesMpPerS, forKey: .wholeTilesMpPerS)
            try c.encode(regionMpPerS, forKey: .regionMpPerS)
            try c.encode(regionMaxDifference, forKey: .regionMaxDifference)
            try c.encode(tiledMultiplyAddsPerPixel, forKey: .tiledMultiplyAddsPerPixel)
            try c.encode(regionMultiplyAddsPerPixel, forKey: .regionMultiplyAddsPerPixel)
            try c.encode(gflops, forKey: .gflops)
            try c.encode(peakGflops, forKey: .peakGflops)
            try c.encode(peakGflopsOneThread, forKey: .peakGflopsOneThread)
            try c.encode(peakFraction, forKey: .peakFraction)
            try c.encode(peakRssMb, forKey: .peakRssMb)
            try c.encode(trainTilesPerS, forKey: .trainTilesPerS)
        }
    }

    func run() throws {
        let model: Model
        if let style {
            model = try StyleRegistry(directory: URL(fileURLWithPath: models)).style(style).model
        } else {
            let (spec, file) = try loadSpec(spec!)
            model = try file.map { try Model.load($0).model } ?? Model(spec: spec, seed: 1)
        }
        let inputShape = model.summary.layers.first!.outputShape.dropFirst().map { $0 ?? TileGrid.inputSize }
        let plan = InferencePlan(model)
        let pool = WorkerPool.shared(threads: threads)
        let peakOne = MachinePeak.measure(pool: .shared(threads: 1))
        let peak = threads == 1 ? peakOne : MachinePeak.measure(pool: pool)

        var tilesPerS: [String: Double] = [:]
        for batch in [1, 16, 64, 256] {
            let x = random([batch] + inputShape, seed: UInt64(batch))
            tilesPerS["\(batch)"] = try Double(batch) * bestRate { _ = try plan.predict(x, pool: pool) }
        }
        let macs = model.multiplyAdds, computed = plan.multiplyAdds
        let gflops = tilesPerS["256"]! * Double(computed) * 2 / 1e9

        let image = random([1, 2048, 2048, inputShape[2]], seed: 7)
        /// MP/s of the best of three runs, and the last output.
        func megapixelsPerSecond(_ body: () throws -> Tensor) rethrows -> (Double, Tensor) {
            var best = Double.infinity, output: Tensor?
            for _ in 0..<3 {
                let start = Date()
                output = try body()
                best = min(best, Date().timeIntervalSince(start))
            }
            return (2048.0 * 2048 / 1e6 / best, output!)
        }
        let (tiledMP, tiled) = try megapixelsPerSecond { try WholeImage.tiled(image, plan: plan, pool: pool) }
        let wholeTiles = InferencePlan(model, tileWindows: false)
        let (wholeTilesMP, _) = try megapixelsPerSecond { try WholeImage.tiled(image, plan: wholeTiles, pool: pool) }
        var regionMP: Double?, regionDifference: Float?, regionMacs: Double?, refusal: String?
        do {
            let region = try RegionPlan(model)
            let (mp, fast) = try megapixelsPerSecond { try WholeImage.region(image, plan: region, pool: pool) }
            regionMP = mp
            regionDifference = zip(fast.scalars, tiled.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
            regionMacs = try region.multiplyAddsPerOutputPixel()
        } catch {
            refusal = "\(error)"
        }
        let corePixels = Double(TileGrid.outputSize * TileGrid.outputSize)
        let tiledMacs = Double(computed) / corePixels, wholeMacs = Double(macs) / corePixels

        var trainTilesPerS: [String: Double]?
        if train {
            trainTilesPerS = [:]
            for batch in [32, 64] {
                let x = random([batch] + inputShape, seed: 3), target = try plan.predict(random([batch] + inputShape, seed: 4), pool: pool)
                var trainer = Trainer(model: model, optimizer: .adam(), loss: .mse)
                trainTilesPerS!["\(batch)"] = try Double(batch) * bestRate { try trainer.step(inputs: [x], targets: [target], pool: pool) }
            }
        }

        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let report = Report(model: model.name, threads: threads, multiplyAddsPerTile: macs, computedMultiplyAddsPerTile: computed, tilesPerS: tilesPerS,
                            tiledMpPerS: tiledMP, wholeTilesMpPerS: wholeTilesMP, regionMpPerS: regionMP,
                            tiledMultiplyAddsPerPixel: tiledMacs, regionMultiplyAddsPerPixel: regionMacs, regionMaxDifference: regionDifference, gflops: gflops, peakGflops: peak / 1e9,
                            peakGflopsOneThread: peakOne / 1e9, peakFraction: gflops / (peak / 1e9),
                            peakRssMb: Double(usage.ru_maxrss) / 1024, trainTilesPerS: trainTilesPerS)
        if json { return try printJSON(report) }
        func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
        print("model \(report.model): \(macs) multiply-adds per \(inputShape.map(String.init).joined(separator: "x")) tile, "
              + "\(computed) computed (tile windows), \(threads) thread(s)")
        for batch in ["1", "16", "64", "256"] { print("  batch \(batch.padding(toLength: 4, withPad: " ", startingAt: 0)) \(f(tilesPerS[batch]!, 0)) tiles/s") }
        print("  2048x2048 tiled: \(f(tiledMP, 2)) MP/s (whole 36x36 tiles, without tile windows: \(f(wholeTilesMP, 2)) MP/s)")
        if let regionMP, let regionDifference, let regionMacs {
            print("  2048x2048 region path: \(f(regionMP, 2)) MP/s = \(f(regionMP / tiledMP))x tiled, \(f(regionMP / wholeTilesMP))x whole tiles "
                  + "(largest difference \(String(format: "%.1e", regionDifference)))")
            print("  multiply-adds per output pixel: region \(f(regionMacs, 0)), tiled \(f(tiledMacs, 0)), whole tiles \(f(wholeMacs, 0))")
        } else {
            print("  no region path: \(refusal ?? "")")
        }
        print("  \(f(gflops)) GFLOP/s computed at batch 256 = \(f(100 * report.peakFraction))% of the measured fp32 peak "
              + "(\(f(report.peakGflops)) GFLOP/s on \(threads) thread(s), \(f(report.peakGflopsOneThread)) on one)")
        if let trainTilesPerS {
            print("  training (Adam, MSE): batch 32 \(f(trainTilesPerS["32"]!, 0)) tiles/s, batch 64 \(f(trainTilesPerS["64"]!, 0)) tiles/s")
        }
        print("  peak RSS \(f(report.peakRssMb)) MB")
    }

    /// Runs per second of `body`, after one warm-up run: the best of three one-second windows, as
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
            } while Date().timeIntervalSince(start) < 1
            best = max(best, Double(runs) / Date().timeIntervalSince(start))
        }
        return best
    }

    private func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in g.nextUnitFloat() })
    }
}
