// Training end to end in ConvCore: the crop autoencoder learns a known colour mapping from tiles,
// and a checkpointed run resumes bit for bit.

import Foundation
import Testing
@testable import ConvCore

/// A smooth, busy RGB test image: sinusoids of several frequencies per channel plus flat blocks,
/// values within [0.07, 0.93] (a sigmoid output reaches exact 0 or 1 only at infinite logits).
func syntheticImage(height: Int, width: Int, seed: UInt64) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let waves = (0..<9).map { _ in (fy: g.nextUnitFloat() * 0.3, fx: g.nextUnitFloat() * 0.3, phase: g.nextUnitFloat() * 6.28) }
    var image = Tensor(zeros: [1, height, width, 3])
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<3 {
                var v: Float = 0.5
                for k in 0..<3 {
                    let w = waves[c * 3 + k]
                    v += 0.143 * sinf(w.fy * Float(y) + w.fx * Float(x) + w.phase)
                }
                image.scalars[(y * width + x) * 3 + c] = min(max(v, 0), 1)
            }
        }
    }
    for _ in 0..<12 {
        let y0 = Int(g.nextUnitFloat() * Float(height - 8)), x0 = Int(g.nextUnitFloat() * Float(width - 8))
        let colour = (0..<3).map { _ in 0.07 + 0.86 * g.nextUnitFloat() }
        for y in y0..<min(y0 + 4 + Int(g.nextUnitFloat() * 20), height) {
            for x in x0..<min(x0 + 4 + Int(g.nextUnitFloat() * 20), width) {
                for c in 0..<3 { image.scalars[(y * width + x) * 3 + c] = colour[c] }
            }
        }
    }
    return image
}

/// The known mapping: inverted and channel-swapped RGB, (r, g, b) -> (1 - b, 1 - r, 1 - g).
func invertSwap(_ r: Float, _ g: Float, _ b: Float) -> [Float] { [1 - b, 1 - r, 1 - g] }

/// `count` random 36x36 tiles of `image` and the mapped 16x16 centres.
func tiles(of image: Tensor, count: Int, generator: inout SeededGenerator) -> (inputs: Tensor, targets: Tensor) {
    let (_, h, w, _) = image.nhwc
    var inputs = [Float](), targets = [Float]()
    for _ in 0..<count {
        let y0 = Int(generator.nextUnitFloat() * Float(h - 36)), x0 = Int(generator.nextUnitFloat() * Float(w - 36))
        for y in 0..<36 { for x in 0..<36 { for c in 0..<3 { inputs.append(image.scalars[((y0 + y) * w + x0 + x) * 3 + c]) } } }
        for y in 10..<26 {
            for x in 10..<26 {
                let p = ((y0 + y) * w + x0 + x) * 3
                targets += invertSwap(image.scalars[p], image.scalars[p + 1], image.scalars[p + 2])
            }
        }
    }
    return (Tensor(shape: [count, 36, 36, 3], scalars: inputs), Tensor(shape: [count, 16, 16, 3], scalars: targets))
}

@Suite struct TrainingTests {
    static let unet = try! ModelSpec(contentsOf: fixtures.appendingPathComponent("unet_crop.json"))

    /// The same autoencoder with BatchNormalization momentum 0.9: with Keras' 0.99 the moving
    /// statistics that inference uses need ~500 steps to forget their initial values, longer than
    /// this test trains (training-mode PSNR is fine long before inference-mode PSNR catches up).
    static let unetFastStatistics = try! ModelSpec(json: String(
        decoding: try! Data(contentsOf: fixtures.appendingPathComponent("unet_crop.json")), as: UTF8.self)
        .replacingOccurrences(of: #""type": "BatchNormalization""#, with: #""type": "BatchNormalization", "momentum": 0.9"#))

    @Test func learnsAKnownColourMapping() throws {
        // Eight training images for colour variety; held-out tiles come from two others.
        let train = (1...8).map { syntheticImage(height: 128, width: 128, seed: UInt64($0)) }
        var sampler = SeededGenerator(seed: 99)
        let heldOut = [syntheticImage(height: 96, width: 96, seed: 100), syntheticImage(height: 96, width: 96, seed: 101)]
            .map { tiles(of: $0, count: 16, generator: &sampler) }
        let validation = (inputs: Tensor(shape: [32, 36, 36, 3], scalars: heldOut[0].inputs.scalars + heldOut[1].inputs.scalars),
                          targets: Tensor(shape: [32, 16, 16, 3], scalars: heldOut[0].targets.scalars + heldOut[1].targets.scalars))
        var trainer = Trainer(model: try Model(spec: Self.unetFastStatistics, seed: 4), optimizer: .adam(learningRate: 0.003), loss: .mse)
        #expect(trainer.model.spec.text.contains(#""momentum": 0.9"#))
        let start = Date()
        var psnr: Double = 0
        // Deterministic (seeded, single-threaded): 30.5 dB arrives at step 725, about 170 s on this machine.
        let steps = 1200
        for step in 1...steps {
            // Step decay: fast progress first, then small steps to settle in.
            trainer.optimizer.learningRate = step * 10 <= steps * 5 ? 0.003 : step * 10 <= steps * 8 ? 0.001 : 0.0003
            let batch = tiles(of: train[step % train.count], count: 16, generator: &sampler)
            try trainer.step(inputs: [batch.inputs], targets: [batch.targets])
            if step % 25 == 0 || step == steps {
                let mse = Double(try trainer.evaluate(inputs: [validation.inputs], targets: [validation.targets]))
                psnr = 10 * log10(1 / mse)
                print("step \(step): held-out PSNR \(String(format: "%.2f", psnr)) dB, \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
                if psnr >= 30.5 { break }
            }
        }
        #expect(psnr >= 30)
    }
}

/// Peak resident memory of this process (VmHWM), in bytes.
func peakResidentBytes() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
    return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
}

@Suite struct CheckpointTests {
    /// The autoencoder with real dropout, so the checkpoint must carry the generator too.
    static let spec = try! ModelSpec(json: String(
        decoding: try! Data(contentsOf: fixtures.appendingPathComponent("unet_crop.json")), as: UTF8.self)
        .replacingOccurrences(of: #""rate": 0.0"#, with: #""rate": 0.2"#))

    static func batches(_ count: Int) -> [(inputs: Tensor, targets: Tensor)] {
        var g = SeededGenerator(seed: 5)
        let image = syntheticImage(height: 80, width: 80, seed: 6)
        return (0..<count).map { _ in tiles(of: image, count: 4, generator: &g) }
    }

    @Test(arguments: [Optimizer.adam(), Optimizer.sgd(learningRate: 0.01, momentum: 0.9, nesterov: true)])
    func resumedRunEqualsUninterruptedRun(_ optimizer: Optimizer) throws {
        #expect(Self.spec.text.contains(#""rate": 0.2"#))
        let data = Self.batches(6)
        var straight = Trainer(model: try Model(spec: Self.spec, seed: 1), optimizer: optimizer, loss: .huber, seed: 2)
        let straightLosses = try data.map { try straight.step(inputs: [$0.inputs], targets: [$0.targets]) }

        var first = Trainer(model: try Model(spec: Self.spec, seed: 1), optimizer: optimizer, loss: .huber, seed: 2)
        var losses = try data.prefix(3).map { try first.step(inputs: [$0.inputs], targets: [$0.targets]) }
        let saved = first.checkpoint()
        var resumed = try Trainer(resuming: saved)
        #expect(resumed.optimizer.iterations == 3)
        losses += try data.suffix(3).map { try resumed.step(inputs: [$0.inputs], targets: [$0.targets]) }

        #expect(losses == straightLosses)
        #expect(resumed.optimizer.iterations == straight.optimizer.iterations)
        #expect(resumed.generator == straight.generator)
        let a = resumed.model.weights, b = straight.model.weights
        #expect(a.map(\.name) == b.map(\.name))
        #expect(zip(a, b).allSatisfy { $0.tensor == $1.tensor }, "weights differ after resuming")
        #expect(resumed.optimizer.state.tensors.map(\.tensor) == straight.optimizer.state.tensors.map(\.tensor))
    }

    /// A batch split across threads takes the single-threaded step (up to float summation order),
    /// and the same thread count repeats it exactly; with BatchNormalization too (unet_crop): its
    /// statistics and backward sums are the whole batch's, and its moving statistics move alike.
    @Test(arguments: ["region_unet.json", "unet_crop.json"]) func stepSplitAcrossThreadsMatchesOneThread(_ file: String) throws {
        let spec = try ModelSpec(contentsOf: fixtures.appendingPathComponent(file))
        var g = SeededGenerator(seed: 3)
        let batch = tiles(of: syntheticImage(height: 80, width: 80, seed: 4), count: 7, generator: &g)
        func trained(threads: Int?) throws -> (losses: [Float], weights: [Tensor]) {
            var trainer = Trainer(model: try Model(spec: spec, seed: 1), optimizer: .sgd(learningRate: 0.1), loss: .mse)
            let losses = try (0..<3).map { _ in
                try threads.map { try trainer.step(inputs: [batch.inputs], targets: [batch.targets], pool: .shared(threads: $0)) }
                    ?? trainer.step(inputs: [batch.inputs], targets: [batch.targets])
            }
            return (losses, trainer.model.weights.map(\.tensor))
        }
        let one = try trained(threads: nil), three = try trained(threads: 3), again = try trained(threads: 3)
        #expect(zip(one.losses, three.losses).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($0)) }, "\(one.losses) \(three.losses)")
        let largest = zip(one.weights, three.weights).map { $0.maxAbsDifference($1) }.max() ?? 0
        #expect(largest <= 1e-5, "\(file): weights differ by \(largest)")
        #expect(one.weights != three.weights, "\(file): the batch was not split (the same bits as one thread)")
        #expect(three.losses == again.losses && three.weights == again.weights)
        #expect(one.losses[2] < one.losses[0])
    }

    @Test func checkpointRejectsGarbage() {
        let bad = Trainer.Checkpoint(weights: Data([1, 2, 3]), state: Data())
        #expect(errorMessage { _ = try Trainer(resuming: bad) }.contains("only 3 bytes"))
    }

    /// Acceptance: a batch of 64 tiles through the crop autoencoder trains under 1 GiB.
    @Test func batchOf64TrainsUnderOneGibibyte() throws {
        var g = SeededGenerator(seed: 8)
        let batch = tiles(of: syntheticImage(height: 100, width: 100, seed: 9), count: 64, generator: &g)
        var trainer = Trainer(model: try Model(spec: TrainingTests.unet, seed: 1), optimizer: .adam(), loss: .mse)
        try trainer.step(inputs: [batch.inputs], targets: [batch.targets])
        let peak = peakResidentBytes()
        print("peak RSS after a 64-tile training step: \(peak / 1_048_576) MiB")
        #expect(peak > 0 && peak < 1 << 30)
    }
}

/// Training through tile windows: each node computes, forward and backward, only the part of its
/// map that reaches the cropped output; the loss, the input gradient and every parameter gradient
/// are the whole maps' (up to float summation order). The specs cover 'same' padding at the
/// window's edge, pooling, a strided convolution, transposed convolutions, a skip concatenation,
/// cropping, and BatchNormalization and Dropout (which stay whole).
@Suite struct TileWindowTrainingTests {
    static let colorize = fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Models/specs/colorize.json")

    @Test(arguments: ["region_unet.json", "unet_crop.json", "colorize"])
    func gradientsOnWindowsEqualWholeMaps(_ file: String) throws {
        let spec = try ModelSpec(contentsOf: file == "colorize" ? Self.colorize : fixtures.appendingPathComponent(file))
        let model = try Model(spec: spec, seed: 1)
        let windows = try #require(TileWindows.analyse(model.graph, training: true))
        let trimmed = zip(model.graph.nodes, windows).filter { node, window in
            window.map { $0.output != TileWindow(whole: node.outputDims) } ?? true
        }
        #expect(trimmed.count >= 3, "\(file): the windows trim too little to test")

        let inputShape = [3] + model.graph.nodes[model.graph.inputNodes[0]].outputDims.map { $0! }
        let x = tensor(inputShape, seed: 5, range: 0...1)
        func pass(_ tileWindows: Bool) throws -> (outputs: [Tensor], gradients: Gradients) {
            var m = model
            var g = SeededGenerator(seed: 3)
            let tape = try m.record([x], training: true, generator: &g, tileWindows: tileWindows)
            let r = tape.outputs.enumerated().map { tensor($0.element.shape, seed: 100 + UInt64($0.offset), range: -1...1) }
            return (tape.outputs, model.backward(tape, outputGradients: r))
        }
        let windowed = try pass(true), whole = try pass(false)
        // Training leaves the model input's gradient out, and the first layers' share of it with it.
        var m = model
        var g = SeededGenerator(seed: 3)
        let tape = try m.record([x], training: true, generator: &g)
        let r = tape.outputs.enumerated().map { tensor($0.element.shape, seed: 100 + UInt64($0.offset), range: -1...1) }
        let trained = model.backward(tape, outputGradients: r, inputGradients: false)
        #expect(trained.parameters == windowed.gradients.parameters, "\(file): parameter gradients without the input's")
        #expect(trained.inputs[0].scalars.allSatisfy { $0 == 0 })
        #expect(windowed.outputs[0].maxAbsDifference(whole.outputs[0]) <= 1e-6)
        #expect(windowed.gradients.inputs[0].maxAbsDifference(whole.gradients.inputs[0]) <= 1e-6)
        for (n, node) in model.graph.nodes.enumerated() {
            for (p, spec) in node.parameters.enumerated() where spec.trainable {
                let a = windowed.gradients.parameters[n][p], b = whole.gradients.parameters[n][p]
                let scale = max(1, b.scalars.map(abs).max() ?? 0)
                #expect(a.maxAbsDifference(b) <= 1e-5 * scale, "\(file): \(node.name).\(spec.name)")
            }
        }
    }
}
