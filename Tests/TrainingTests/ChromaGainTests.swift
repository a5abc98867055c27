// The chroma gain a CbCr style gets at export: fitted by least squares around neutral chroma,
// folded into the output layer only when that layer is linear in its kernel and bias.

import ConvCore
import Foundation
@testable import Training
import Testing

@Suite struct ChromaGainTests {
    @Test func fitIsTheLeastSquaresGainAroundNeutral() {
        let target = Tensor(shape: [1, 2, 2, 2], scalars: [0.6, 0.4, 0.55, 0.45, 0.5, 0.7, 0.3, 0.5])
        let twice = Tensor(shape: target.shape, scalars: target.scalars.map { 0.5 + 2 * ($0 - 0.5) })
        #expect(abs(ChromaGain.fit(predicted: twice, target: target) - 0.5) < 1e-6)
        #expect(ChromaGain.fit(predicted: target, target: target) == 1)
        // Never negative, never above one, and neutral predictions keep a gain of one.
        let opposite = Tensor(shape: target.shape, scalars: target.scalars.map { 1 - $0 })
        #expect(ChromaGain.fit(predicted: opposite, target: target) == 0)
        let half = Tensor(shape: target.shape, scalars: target.scalars.map { 0.5 + 0.5 * ($0 - 0.5) })
        #expect(ChromaGain.fit(predicted: half, target: target) == 1)
        #expect(ChromaGain.fit(predicted: Tensor(repeating: 0.5, shape: target.shape), target: target) == 1)
    }

    static func model(activation: String) throws -> Model {
        let spec = try ModelSpec(json: #"{"name": "c", "input": {"name": "input", "shape": [36, 36, 1]}, "layers": [{"name": "crop", "type": "Cropping2D", "cropping": 10}, {"name": "hidden", "type": "Conv2D", "filters": 4, "kernel_size": 1, "activation": "tanh"}, {"name": "cbcr", "type": "Conv2D", "filters": 2, "kernel_size": 1, "activation": "\#(activation)"}], "outputs": ["cbcr"]}"#)
        return try Model(spec: spec, seed: 3)
    }

    @Test func foldScalesTheOutputAroundNeutral() throws {
        var generator = SeededGenerator(seed: 9)
        let inputs = Tensor(shape: [3, 36, 36, 1], scalars: (0..<(3 * 36 * 36)).map { _ in generator.nextUnitFloat() })
        let model = try Self.model(activation: "linear"), pool = WorkerPool.shared(threads: 1)
        let before = try model.predict(inputs)
        let folded = try #require(try ChromaGain.fold(0.3, into: model, predicted: before, on: inputs, pool: pool))
        let after = try folded.model.predict(inputs)
        #expect(folded.predicted.scalars == (try InferencePlan(folded.model).predict(inputs, pool: pool)).scalars)
        #expect(zip(before.scalars, after.scalars).allSatisfy { abs(0.5 + 0.3 * ($0 - 0.5) - $1) < 1e-5 })
        #expect(zip(before.scalars, after.scalars).contains { abs($0 - $1) > 0.01 })
        // relu clips what the scaled kernel would make negative: not a fold.
        let clipped = try Self.model(activation: "relu")
        #expect(try ChromaGain.fold(0.3, into: clipped, predicted: try clipped.predict(inputs), on: inputs, pool: pool) == nil)
    }
}
