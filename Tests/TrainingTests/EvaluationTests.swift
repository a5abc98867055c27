// `tessera eval`'s figures: PSNR and SSIM on constructed images, pairs through a style with a bad
// file among them.

import ConvCore
import Foundation
import Imaging
import Styles
import TestSupport
import Testing
@testable import Training

@Suite struct EvaluationTests {
    @Test func psnrAndSSIMOnConstructedImages() {
        let a = Scratch.randomImage(width: 40, height: 30, bands: 3, bitDepth: 8, seed: 1)
        let shifted = Tensor(shape: a.shape, scalars: a.scalars.map { $0 + 0.1 })
        #expect(abs(Evaluation.psnr(a, shifted) - 20) < 1e-4) // MSE 0.01
        #expect(Evaluation.psnr(a, a) == 100)
        #expect(abs(Evaluation.ssim(a, a) - 1) < 1e-9)
        var g = SeededGenerator(seed: 2)
        let noisy = Tensor(shape: a.shape, scalars: a.scalars.map { $0 + 0.2 * (g.nextUnitFloat() - 0.5) })
        let s = Evaluation.ssim(a, noisy)
        #expect(s < 0.99 && s > 0, "\(s)")
        // A constant offset keeps the structure: only the luminance term drops below 1.
        #expect(Evaluation.ssim(a, shifted) > s)
    }

    /// Flat 0.2 inputs through the identity style against flat 0.3 targets: 20 log10(255 / 26)
    /// dB in 8 bits, the baseline (the input) the same; a broken file is reported and skipped.
    @Test func pairsAreScoredAndABadFileSkipped() throws {
        let folder = Scratch.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for sub in ["input", "target"] { try FileManager.default.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true) }
        for name in ["a", "b"] {
            try ImageFile.save(Tensor(repeating: 51.0 / 255, shape: [1, 40, 50, 3]), bitDepth: 8, to: folder.appendingPathComponent("input/\(name).png"))
            try ImageFile.save(Tensor(repeating: 77.0 / 255, shape: [1, 40, 50, 3]), bitDepth: 8, to: folder.appendingPathComponent("target/\(name).png"))
        }
        try Data("not a png".utf8).write(to: folder.appendingPathComponent("input/broken.png"))
        try Data("not a png".utf8).write(to: folder.appendingPathComponent("target/broken.png"))
        let identity = try Style.load(Scratch.repository.appendingPathComponent("Models/identity.safetensors"))
        let evaluation = Evaluation(style: identity, threads: 2)
        #expect(evaluation.baseline == .input && evaluation.filter == nil)
        let report = try evaluation.pairs(folder)
        #expect(report.photos.map(\.name) == ["a", "b"])
        let expected = 20 * log10(255.0 / 26)
        for score in report.photos {
            #expect(abs(score.psnr - expected) < 1e-3 && abs(score.baselinePsnr - expected) < 1e-3, "\(score)")
            #expect(score.ssim > 0.9 && score.ssim < 1 && score.chromaFraction == nil && score.onLevels == nil)
        }
        #expect(abs((report.mean?.psnr ?? 0) - expected) < 1e-3)
        #expect(report.problems.count == 1 && report.problems[0].contains("input/broken.png"), "\(report.problems)")
        #expect(throws: TrainingError.self) { try evaluation.photos(folder, longSide: 64) } // identity has no reference filter

        // Recorded into a copy of the model file, the figures come back with the style.
        let copy = folder.appendingPathComponent("identity.safetensors")
        try FileManager.default.copyItem(at: identity.file, to: copy)
        try Evaluation(style: try Style.load(copy), threads: 2).record(report)
        let reloaded = try Style.load(copy)
        #expect(reloaded.heldOut == report.heldOut && reloaded.heldOut?.photos == 2 && reloaded.heldOut?.baseline == "input")
        #expect(try reloaded.plan.predict(Tensor(zeros: [1, 36, 36, 3]), pool: .shared(threads: 1)).shape == [1, 16, 16, 3])
    }
}
