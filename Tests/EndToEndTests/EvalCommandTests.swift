// `tessera eval` as users run it: pairs made from photos, a bad file reported on one line and
// skipped, one JSON object with every key.

import Foundation
import Testing

@Suite(.tags(.slow)) struct EvalCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func scoresPhotosAndReportsABadFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let photos = Self.repository.appendingPathComponent("Tests/EndToEndTests/Fixtures/photos")
        let names = try FileManager.default.contentsOfDirectory(atPath: photos.path).filter { $0.hasSuffix(".jpg") }.sorted().prefix(3)
        for name in names { try FileManager.default.copyItem(at: photos.appendingPathComponent(name), to: folder.appendingPathComponent(name)) }
        try Data("not a jpeg".utf8).write(to: folder.appendingPathComponent("broken.jpg"))
        let models = folder.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let edges = models.appendingPathComponent("edges.safetensors").path
        try FileManager.default.copyItem(atPath: Self.repository.appendingPathComponent("Models/edges.safetensors").path, toPath: edges)
        let run = try tessera(["eval", edges, "--photos", folder.path, "--size", "128", "--threads", "2", "--json", "--record"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("skipped ") && lines[0].contains("broken.jpg"), "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(Set(report.keys) == ["style", "baseline", "photos", "mean", "problems"])
        #expect(report["style"] as? String == "edges" && report["baseline"] as? String == "flat_mean")
        let scores = try #require(report["photos"] as? [[String: Any]])
        #expect(scores.map { $0["name"] as? String } == names.map { String($0.dropLast(4)) })
        let keys: Set = ["name", "psnr", "ssim", "baseline_psnr", "baseline_ssim", "chroma_fraction", "mean_cb_offset", "mean_cr_offset", "on_levels"]
        for score in scores {
            #expect(Set(score.keys) == keys)
            // The shipped edges style beats a flat image by far.
            #expect((score["psnr"] as? Double ?? 0) > (score["baseline_psnr"] as? Double ?? 100) + 5, "\(score)")
        }
        #expect((report["mean"] as? [String: Any])?["chroma_fraction"] is NSNull)

        // `--record` stored the mean figures in the model file, and `tessera styles` shows them.
        var environment = ProcessInfo.processInfo.environment
        environment["TESSERA_MODELS"] = models.path
        let styles = try tessera(["styles", "--json"], environment: environment)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(styles.stdout.utf8)) as? [[String: Any]])
        let heldOut = try #require(entries.first?["held_out"] as? [String: Any], "\(styles.stdout)")
        #expect((heldOut["mean"] as? [String: Any])?["psnr"] as? Double == (report["mean"] as? [String: Any])?["psnr"] as? Double)
        #expect(heldOut["photos"] as? Int == names.count && heldOut["baseline"] as? String == "flat_mean")
    }
}
