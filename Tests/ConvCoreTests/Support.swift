import Foundation
import Testing
@testable import ConvCore

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
let golden = fixtures.appendingPathComponent("golden")

/// Largest error, absolute for values up to 1 and relative above.
func worstError(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.shape == b.shape else { return .infinity }
    var worst: Float = 0
    for (x, y) in zip(a.scalars, b.scalars) {
        let e = abs(x - y) / max(1, abs(y))
        if !(e <= worst) { worst = e.isNaN ? .infinity : e }
    }
    return worst
}

func spec(_ json: String) throws -> ModelSpec { try ModelSpec(json: json) }

/// A one-layer spec on an input of the given shape.
func singleLayer(_ layer: String, input: String) throws -> ModelSpec {
    try ModelSpec(json: #"{"input": {"name": "in", "shape": \#(input)}, "layers": [\#(layer)]}"#)
}

func tensor(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = 0...1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let n = shape.reduce(1, *)
    return Tensor(shape: shape, scalars: (0..<n).map { _ in range.lowerBound + g.nextUnitFloat() * (range.upperBound - range.lowerBound) })
}

/// The message of the ModelError `body` throws, or a failure.
func errorMessage(_ body: () throws -> Void) -> String {
    do { try body() } catch let e as ModelError { return e.description } catch { return "unexpected \(error)" }
    return "no error"
}
