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

    func run() throws {
        let model: Model
        if let style {
            model = try StyleRegistry(directory: URL(fileURLWithPath: models)).style(style).model
        } else {
            let (spec, file) = try loadSpec(spec!)
            model = try file.map { try Model.load($0).model } ?? Model(spec: spec, seed: 1)
        }
        var benchmark = Benchmark(threads: threads)
        benchmark.train = train
        let report = try benchmark.run(model)
        if json { return try printJSON(report) }
        func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
        print("model \(report.model): \(report.multiplyAddsPerTile) multiply-adds per \(report.tileShape.map(String.init).joined(separator: "x")) tile, "
              + "\(report.computedMultiplyAddsPerTile) computed (tile windows), \(threads) thread(s)")
        for batch in ["1", "16", "64", "256"] { print("  batch \(batch.padding(toLength: 4, withPad: " ", startingAt: 0)) \(f(report.tilesPerS[batch]!, 0)) tiles/s") }
        let (tiledMP, wholeTilesMP, side) = (report.tiledMpPerS, report.wholeTilesMpPerS, "\(report.imageSide)x\(report.imageSide)")
        print("  \(side) tiled: \(f(tiledMP, 2)) MP/s (whole 36x36 tiles, without tile windows: \(f(wholeTilesMP, 2)) MP/s)")
        if let regionMP = report.regionMpPerS, let regionDifference = report.regionMaxDifference, let regionMacs = report.regionMultiplyAddsPerPixel {
            print("  \(side) region path: \(f(regionMP, 2)) MP/s = \(f(regionMP / tiledMP))x tiled, \(f(regionMP / wholeTilesMP))x whole tiles "
                  + "(largest difference \(String(format: "%.1e", regionDifference)))")
            print("  multiply-adds per output pixel: region \(f(regionMacs, 0)), tiled \(f(report.tiledMultiplyAddsPerPixel, 0)), "
                  + "whole tiles \(f(report.wholeTilesMultiplyAddsPerPixel, 0))")
        } else {
            print("  no region path: \(report.regionRefusal ?? "")")
        }
        print("  \(f(report.gflops)) GFLOP/s computed at batch 256 = \(f(100 * report.peakFraction))% of the measured fp32 peak "
              + "(\(f(report.peakGflops)) GFLOP/s on \(threads) thread(s), \(f(report.peakGflopsOneThread)) on one)")
        if let trainTilesPerS = report.trainTilesPerS {
            print("  training (Adam, MSE): batch 32 \(f(trainTilesPerS["32"]!, 0)) tiles/s, batch 64 \(f(trainTilesPerS["64"]!, 0)) tiles/s")
        }
        print("  peak RSS \(f(report.peakRssMb)) MB")
    }
}
