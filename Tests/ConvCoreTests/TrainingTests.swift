// Training end to end in ConvCore: the crop autoencoder learns a known colour mapping from tiles,
// and a checkpointed run resumes bit for bit.

import Foundation
import Testing
@testable import ConvCore

/// A smooth, busy RGB test image: sinusoids of several frequencies per channel plus flat blocks.
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
                    v += 0.17 * sinf(w.fy * Float(y) + w.fx * Float(x) + w.phase)
                }
                image.scalars[(y * width + x) * 3 + c] = min(max(v, 0), 1)
            }
        }
    }
    for _ in 0..<12 {
        let y0 = Int(g.nextUnitFloat() * Float(height - 8)), x0 = Int(g.nextUnitFloat() * Float(width - 8))
        let colour = (0..<3).map { _ in g.nextUnitFloat() }
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
        let train = syntheticImage(height: 160, width: 160, seed: 1)
        let heldOut = syntheticImage(height: 96, width: 96, seed: 2)
        var sampler = SeededGenerator(seed: 3)
        let validation = tiles(of: heldOut, count: 32, generator: &sampler)
        var trainer = Trainer(model: try Model(spec: Self.unetFastStatistics, seed: 4), optimizer: .adam(learningRate: 0.003), loss: .mse)
        #expect(trainer.model.spec.text.contains(#""momentum": 0.9"#))
        let start = Date()
        var psnr: Double = 0
        let steps = Int(ProcessInfo.processInfo.environment["TESSERA_TRAIN_STEPS"] ?? "") ?? 400
        for step in 1...steps {
            let batch = tiles(of: train, count: 16, generator: &sampler)
            let trainLoss = try trainer.step(inputs: [batch.inputs], targets: [batch.targets])
            if step % 25 == 0 || step == steps {
                print("train PSNR", 10 * log10(1 / Double(trainLoss)))
                let mse = Double(try trainer.evaluate(inputs: [validation.inputs], targets: [validation.targets]))
                psnr = 10 * log10(1 / mse)
                print("step \(step): held-out PSNR \(String(format: "%.2f", psnr)) dB, \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
                if psnr >= 32 { break }
            }
        }
        #expect(psnr >= 30)
    }
}
