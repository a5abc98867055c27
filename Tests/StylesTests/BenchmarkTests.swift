// The benchmark harness `tessera bench` prints: on a small model, short windows and a small image,
// every figure is present and consistent.

import ConvCore
import Foundation
import Styles
import Testing

@Suite struct BenchmarkTests {
    @Test func reportIsCompleteAndConsistent() throws {
        let spec = try ModelSpec(json: #"{"name": "small", "input": {"name": "in", "shape": [36, 36, 3]}, "layers": [{"name": "a", "type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"}, {"name": "b", "type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same"}, {"name": "out", "type": "Cropping2D", "cropping": 10}]}"#)
        var benchmark = Benchmark(threads: 2)
        (benchmark.secondsPerRate, benchmark.imageSide, benchmark.train) = (0.02, 160, true)
        let report = try benchmark.run(try Model(spec: spec, seed: 1))
        #expect(report.multiplyAddsPerTile == 36 * 36 * 9 * 3 * 8 + 36 * 36 * 9 * 8 * 3)
        #expect(report.computedMultiplyAddsPerTile < report.multiplyAddsPerTile) // tile windows trim the maps
        #expect(Set(report.tilesPerS.keys) == ["1", "16", "64", "256"] && report.tilesPerS.values.allSatisfy { $0 > 0 })
        #expect(report.tiledMpPerS > 0 && report.wholeTilesMpPerS > 0 && (report.regionMpPerS ?? 0) > 0)
        #expect(try #require(report.regionMaxDifference) < 1e-4)
        #expect(try #require(report.regionMultiplyAddsPerPixel) < report.tiledMultiplyAddsPerPixel)
        #expect(report.trainTilesPerS?.keys.sorted() == ["32", "64"] && report.peakGflops > 0)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any]
        #expect(json?.keys.contains("regionMpPerS") == true && json?.keys.contains("trainTilesPerS") == true)
    }
}
