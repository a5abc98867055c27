// Finite-difference checks of the backward pass for every layer type, activation and colour layer
// (the golden fixtures' models, which cover them all, fan-out included) and every loss.
//
// The check projects the outputs onto fixed random directions r, L = sum(r * y), and compares
// dL/dθ from the backward pass with the central difference (L(θ+h) - L(θ-h)) / 2h.
// Tolerance: outputs are float32, so each output θ moves carries a rounding error of at most
// about 1.2e-7 * |r*y| (outputs θ does not touch are computed identically and cancel), which the
// difference divides by 2h; on top of that 1e-2 relative and 3e-3 absolute for the truncation
// error, far below any wrong-formula error (O(0.1) or more).
// Step: h = 1e-3 first. ReLU, max pooling, Maximum/Minimum and the HSV branches have kinks, and
// when one of the many outputs a shared weight touches lies within h of its kink, the difference
// straddles it; then the smaller steps 1e-4 and 1e-5 (kink-free with high probability, noisier,
// and the noise term grows to match) decide. A wrong formula fails at every step.

import Foundation
import Testing
@testable import ConvCore

@Suite struct GradientCheckTests {
    /// The outputs on a copy of the model (training mode moves statistics), same dropout masks.
    static func outputs(_ model: Model, _ x: Tensor, training: Bool) throws -> [Tensor] {
        var m = model
        var g = SeededGenerator(seed: 3)
        return try m.record([x], training: training, generator: &g).outputs
    }

    /// Whether `analytic` matches the central difference of L = sum(r * y) at h = 1e-3, 1e-4 or 1e-5,
    /// `f` giving the outputs at θ + step. The rounding bound counts only the outputs that moved:
    /// the others are computed identically on both sides and cancel exactly.
    static func matches(_ analytic: Float, _ r: [Tensor], _ f: (Float) throws -> [Tensor]) throws -> (Bool, Double) {
        var numeric = 0.0
        for h: Float in [1e-3, 1e-4, 1e-5] {
            let plus = try f(h), minus = try f(-h)
            var difference = 0.0, magnitude = 0.0
            for ((a, b), d) in zip(zip(plus, minus), r) {
                for i in a.scalars.indices where a.scalars[i] != b.scalars[i] {
                    let ra = Double(a.scalars[i]) * Double(d.scalars[i]), rb = Double(b.scalars[i]) * Double(d.scalars[i])
                    difference += ra - rb
                    magnitude += abs(ra) + abs(rb)
                }
            }
            numeric = difference / Double(2 * h)
            let noise = 1.2e-7 * magnitude / Double(2 * h)
            if abs(Double(analytic) - numeric) <= 3e-3 + 1e-2 * abs(numeric) + noise { return (true, numeric) }
        }
        return (false, numeric)
    }

    /// Indices to probe: all of a small tensor, an even spread of a large one.
    static func probes(_ count: Int, limit: Int = 8) -> [Int] {
        count <= limit ? Array(0..<count) : (0..<limit).map { $0 * (count - 1) / (limit - 1) }
    }

    static func check(_ model: Model, input x: Tensor, training: Bool) throws -> [String] {
        var failures: [String] = []
        var base = model
        var g = SeededGenerator(seed: 3)
        let tape = try base.record([x], training: training, generator: &g)
        let r = tape.outputs.enumerated().map { tensor($0.element.shape, seed: 100 + UInt64($0.offset), range: -1...1) }
        let grads = model.backward(tape, outputGradients: r)

        for i in probes(x.count) {
            let analytic = grads.inputs[0].scalars[i]
            let (ok, numeric) = try matches(analytic, r) { h in
                var moved = x
                moved.scalars[i] += h
                return try outputs(model, moved, training: training)
            }
            if !ok { failures.append("input[\(i)]: \(analytic) vs \(numeric)") }
        }
        for (n, node) in model.graph.nodes.enumerated() {
            for (p, spec) in node.parameters.enumerated() where spec.trainable {
                for i in probes(spec.shape.reduce(1, *)) {
                    let analytic = grads.parameters[n][p].scalars[i]
                    let (ok, numeric) = try matches(analytic, r) { h in
                        var moved = model
                        moved.parameters[n][p].scalars[i] += h
                        return try outputs(moved, x, training: training)
                    }
                    if !ok { failures.append("\(node.name).\(spec.name)[\(i)]: \(analytic) vs \(numeric)") }
                }
            }
        }
        return failures
    }

    @Test(arguments: goldenCases)
    func inferenceModeGradients(_ name: String) throws {
        let model = try Model.load(golden.appendingPathComponent("\(name).safetensors")).model
        let x = try NPY.read(golden.appendingPathComponent("\(name).input.npy"))
        let failures = try Self.check(model, input: x, training: false)
        #expect(failures.isEmpty, "\(name): \(failures.prefix(5))")
    }

    /// Batch statistics (BatchNormalization) and dropout masks (the seed block's Dropout 0.25).
    @Test(arguments: ["batchnorm", "batchnorm_nocenter_momentum", "conv_pool", "unet_crop"])
    func trainingModeGradients(_ name: String) throws {
        let model = try Model.load(golden.appendingPathComponent("\(name).safetensors")).model
        let x = try NPY.read(golden.appendingPathComponent("\(name).input.npy"))
        let failures = try Self.check(model, input: x, training: true)
        #expect(failures.isEmpty, "\(name): \(failures.prefix(5))")
    }

    @Test(arguments: Loss.allCases)
    func lossGradients(_ loss: Loss) throws {
        // Errors of either sign between 0.05 and 3, so Huber sees both of its pieces and no
        // difference straddles MAE's kink at 0.
        let target = tensor([2, 3, 4, 2], seed: 1)
        var prediction = target
        let offsets = tensor([2, 3, 4, 2], seed: 2, range: 0.05...3)
        for i in prediction.scalars.indices { prediction.scalars[i] += i % 2 == 0 ? offsets.scalars[i] : -offsets.scalars[i] }
        let (_, gradient) = try loss.evaluate(prediction: prediction, target: target)
        for i in prediction.scalars.indices {
            var plus = prediction, minus = prediction
            plus.scalars[i] += 1e-2
            minus.scalars[i] -= 1e-2
            let numeric = (Double(try loss.evaluate(prediction: plus, target: target).value)
                - Double(try loss.evaluate(prediction: minus, target: target).value)) / 2e-2
            #expect(abs(Double(gradient.scalars[i]) - numeric) <= 1e-4, "\(loss) [\(i)]")
        }
    }

    @Test func lossValuesMatchKerasDefinitions() throws {
        let t = Tensor(shape: [1, 4], scalars: [0, 0, 0, 0])
        let y = Tensor(shape: [1, 4], scalars: [0.5, -2, 3, 0])
        #expect(abs(try Loss.mse.evaluate(prediction: y, target: t).value - (0.25 + 4 + 9) / 4) < 1e-6)
        #expect(abs(try Loss.mae.evaluate(prediction: y, target: t).value - 5.5 / 4) < 1e-6)
        // Huber, delta 1: 0.5 e^2 inside, |e| - 0.5 outside.
        #expect(abs(try Loss.huber.evaluate(prediction: y, target: t).value - (0.125 + 1.5 + 2.5 + 0) / 4) < 1e-6)
    }
}
