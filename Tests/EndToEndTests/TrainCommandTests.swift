// `tessera pairs make` and `tessera train` as users run them, on seven small public-domain photos
// (Fixtures/SOURCES.md): a posterize style learnt and used, a killed run resumed to the very
// weights of an uninterrupted one, bad pairs reported by name, and the report's plot and samples.

import ConvCore
import Foundation
import Imaging
import JobStore
import Styles
import Testing

@Suite(.tags(.slow)) struct TrainCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A scratch folder with its own var/ and models/ (through the environment).
    struct Workspace {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-train-\(UUID().uuidString)")
        var environment: [String: String] {
            var e = ProcessInfo.processInfo.environment
            e["TESSERA_ROOT"] = root.appendingPathComponent("var").path
            e["TESSERA_MODELS"] = root.appendingPathComponent("models").path
            return e
        }

        init() throws { try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true) }

        func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
        func cli(_ arguments: [String]) throws -> Run { try tessera(arguments, environment: environment) }
        func store() throws -> SQLiteStore { try SQLiteStore(readingAt: path("var/tessera.sqlite")) }

        /// Posterize pairs of the six training photos in pairs/.
        func posterizePairs() throws {
            let made = try cli(["pairs", "make", "--style", "posterize", "--from", fixtures.appendingPathComponent("photos").path,
                                "--out", path("pairs")])
            #expect(made.status == 0 && made.stdout.contains("6 pairs"), "\(made.stderr)")
        }

        func train(_ name: String, _ options: [String]) -> [String] {
            ["train", name, "--inputs", path("pairs/input"), "--targets", path("pairs/target"), "--threads", "2"] + options
        }

        func remove() { try? FileManager.default.removeItem(at: root) }
    }

    /// Acceptance 1 and 4. Budget: 4 epochs x 40 steps x 32 tiles (5,120 tiles), one of the six
    /// pairs held out, validation every 20 steps.
    @Test func posterizeLearntFromSixPhotosHalvesValidationLossAndStylizes() throws {
        let w = try Workspace()
        defer { w.remove() }
        try w.posterizePairs()
        let run = try w.cli(w.train("poster", ["--epochs", "4", "--steps", "40", "--batch", "32", "--checkpoint-every", "20", "--seed", "1"]))
        #expect(run.status == 0, "\(run.stderr)")
        let report = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(report == "report: \(w.path("var/training/poster/report.html"))")

        let store = try w.store()
        let trainingRun = try #require(try store.latestTrainingRun(name: "poster"))
        #expect(trainingRun.status == .finished)
        let metrics = try store.trainingMetrics(run: trainingRun.id)
        // The training loss at every step (a 200th of 160 steps rounds up to 1), validation at each checkpoint.
        #expect(metrics.map(\.step) == Array(1...160) && metrics.allSatisfy { $0.loss != nil })
        #expect(metrics.filter { $0.valLoss != nil }.map(\.step) == Array(stride(from: 20, through: 160, by: 20)))
        let validation = metrics.compactMap(\.valLoss)
        print("posterize validation loss: \(validation.map { String(format: "%.4f", $0) }.joined(separator: ", "))")
        #expect(validation.min()! <= validation[0] / 2)
        #expect(try store.styles().contains { $0.name == "poster" && $0.metrics?.contains("val_loss") == true })

        // The style works on a photo it never saw.
        let output = w.path("new.png")
        let stylized = try w.cli(["stylize", Self.fixtures.appendingPathComponent("new-photo/scribus-005.jpg").path, output,
                                  "--style", "poster", "--models", w.path("models")])
        #expect(stylized.status == 0, "\(stylized.stderr)")
        let out = try ImageSource(url: URL(fileURLWithPath: output))
        #expect(out.width == 256 && out.height == 192)

        // Acceptance 4: one point per logged step on each curve, and every referenced sample exists.
        let html = try String(contentsOfFile: w.path("var/training/poster/report.html"), encoding: .utf8)
        for (curve, count) in [("training", 160), ("validation", 8)] {
            let points = try #require(html.firstMatch(of: try Regex("class=\"\(curve)\"[^>]*points=\"([^\"]*)\"")))
            let pairs = (points.output[1].substring ?? "").split(separator: " ")
            #expect(pairs.count == count, "\(curve)")
        }
        // Per epoch: the held-out image whole (input, output, target) and the tile strip.
        let images = html.matches(of: /src="([^"]+)"/).map { String($0.output.1) }
        #expect(images.count == 4 * 4 && Set(images).count == 2 + 4 * 2, "\(images)")
        for image in images { #expect(FileManager.default.fileExists(atPath: w.path("var/training/poster/\(image)")), "\(image)") }
        let shownOutput = try ImageSource(url: URL(fileURLWithPath: w.path("var/training/poster/samples/epoch-004-image.png")))
        let shownInput = try ImageSource(url: URL(fileURLWithPath: w.path("var/training/poster/samples/image-input.png")))
        #expect(shownOutput.width == shownInput.width && shownOutput.height == shownInput.height && max(shownInput.width, shownInput.height) <= 320)
        // Issue 19: finished, axis titles, labelled columns; no reloading once finished.
        #expect(html.contains("<th>status</th><td>finished: the style is step "), "no finished status")
        #expect(html.contains(">training step</text>") && html.contains(">mse loss (log scale)</text>"))
        #expect(html.contains("<figcaption><span>input</span><span>output</span><span>target</span></figcaption>"))
        #expect(html.contains("<figcaption>output, epoch 4</figcaption>") && !html.contains("http-equiv=\"refresh\""))
    }

    /// Acceptance 2: a run killed with SIGKILL and resumed continues from its last checkpoint and
    /// ends with the weights (and logged losses) of a run never interrupted.
    @Test func killNineThenResumeEndsWithTheUninterruptedWeights() throws {
        let w = try Workspace()
        defer { w.remove() }
        try w.posterizePairs()
        let options = ["--epochs", "3", "--steps", "40", "--batch", "16", "--checkpoint-every", "10", "--seed", "3"]
        let straight = try w.cli(w.train("straight", options))
        #expect(straight.status == 0, "\(straight.stderr)")

        let process = Process()
        process.executableURL = tesseraBinary
        process.arguments = w.train("resumed", options)
        process.environment = w.environment
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var killedAt = 0
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline {
            if let run = try? w.store().latestTrainingRun(name: "resumed"), let step = try w.store().latestCheckpoint(run: run.id)?.step, step >= 30 {
                kill(process.processIdentifier, SIGKILL)
                killedAt = step
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal && killedAt >= 30 && killedAt < 120, "killed at \(killedAt)")
        let store = try w.store()
        let run = try #require(try store.latestTrainingRun(name: "resumed"))
        #expect(run.status == .running)
        let live = try String(contentsOfFile: w.path("var/training/resumed/report.html"), encoding: .utf8)
        #expect(live.contains("http-equiv=\"refresh\"") && live.contains("<th>status</th><td>running"), "a live run's page reloads")

        let resumed = try w.cli(["train", "resumed", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("run \(run.id): 120 steps"))
        let straightRun = try #require(try store.latestTrainingRun(name: "straight"))
        let a = try store.trainingMetrics(run: straightRun.id), b = try store.trainingMetrics(run: run.id)
        #expect(b.map(\.step) == Array(1...120), "each step logged once")
        #expect(a == b)
        let first = try Safetensors.decode(Data(contentsOf: URL(fileURLWithPath: w.path("models/straight.safetensors"))))
        let second = try Safetensors.decode(Data(contentsOf: URL(fileURLWithPath: w.path("models/resumed.safetensors"))))
        #expect(first.tensors.keys.sorted() == second.tensors.keys.sorted())
        #expect(first.tensors.allSatisfy { second.tensors[$0.key] == $0.value }, "weights differ")

        let again = try w.cli(["train", "resumed", "--resume"])
        #expect(again.status != 0 && again.stderr.contains("has finished"))
        let mixed = try w.cli(["train", "resumed", "--resume", "--epochs", "5"])
        #expect(mixed.status != 0 && mixed.stderr.contains("drop --epochs"))
    }

    /// Acceptance 3: each bad pair is named with its reason and skipped; nothing usable is refused.
    @Test func badPairsAreReportedAndEmptyFoldersRefused() throws {
        let w = try Workspace()
        defer { w.remove() }
        let inputs = URL(fileURLWithPath: w.path("in")), targets = URL(fileURLWithPath: w.path("out"))
        for folder in [inputs, targets] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        func image(_ width: Int, _ height: Int) -> Tensor {
            Tensor(shape: [1, height, width, 3], scalars: (0..<(width * height * 3)).map { Float($0 % 251) / 251 })
        }
        try ImageFile.save(image(48, 40), bitDepth: 8, to: inputs.appendingPathComponent("good.png"))
        try ImageFile.save(image(48, 40), bitDepth: 8, to: targets.appendingPathComponent("good.png"))
        try ImageFile.save(image(48, 40), bitDepth: 8, to: inputs.appendingPathComponent("lonely.png"))
        try ImageFile.save(image(48, 40), bitDepth: 8, to: inputs.appendingPathComponent("sizes.png"))
        try ImageFile.save(image(40, 40), bitDepth: 8, to: targets.appendingPathComponent("sizes.jpg"))
        try Data("not an image\n".utf8).write(to: inputs.appendingPathComponent("broken.png"))
        try ImageFile.save(image(48, 40), bitDepth: 8, to: targets.appendingPathComponent("broken.png"))
        try ImageFile.save(image(48, 40), bitDepth: 8, to: targets.appendingPathComponent("orphan.png"))

        let run = try w.cli(["train", "mixed", "--inputs", inputs.path, "--targets", targets.path, "--epochs", "1", "--steps", "2",
                             "--batch", "4", "--threads", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains("skipped \(inputs.path)/lonely.png: no target named 'lonely.*' in \(targets.path)"), "\(lines)")
        #expect(lines.contains("skipped \(targets.path)/sizes.jpg: 40x40, but its input sizes.png is 48x40"), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("skipped \(inputs.path)/broken.png: ") }, "\(lines)")
        #expect(lines.contains("skipped \(targets.path)/orphan.png: no input named 'orphan.*' in \(inputs.path)"), "\(lines)")
        #expect(lines.filter { $0.hasPrefix("skipped") }.count == 4)

        let empty = URL(fileURLWithPath: w.path("empty"))
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let none = try w.cli(["train", "nothing", "--inputs", empty.path, "--targets", empty.path])
        #expect(none.status != 0 && none.stderr == "Error: no images in \(empty.path) and \(empty.path)\n", "\(none.stderr)")
        let unusable = try w.cli(["train", "nothing", "--inputs", inputs.path, "--targets", empty.path])
        #expect(unusable.status != 0 && unusable.stderr.hasSuffix("Error: no usable pairs in \(inputs.path) and \(empty.path)\n"), "\(unusable.stderr)")
        let missing = try w.cli(["train", "nothing", "--inputs", w.path("nowhere"), "--targets", empty.path])
        #expect(missing.status != 0 && missing.stderr.contains("\(w.path("nowhere")): no such folder"))
        #expect(!FileManager.default.fileExists(atPath: w.path("models/nothing.safetensors")))
    }

    /// The other two filters, and the colour handling training infers from grey and colour pairs.
    @Test func edgesAndColorizePairsTeachTheirColourHandling() throws {
        let w = try Workspace()
        defer { w.remove() }
        for (filter, inputBands, targetBands, style) in [("edges", 3, 1, #"{"input": "rgb", "output": "luminance"}"#),
                                                         ("colorize", 1, 3, #"{"input": "luminance", "output": "cbcr"}"#)] {
            let made = try w.cli(["pairs", "make", "--style", filter, "--from", Self.fixtures.appendingPathComponent("photos").path,
                                  "--out", w.path(filter), "--size", "128"])
            #expect(made.status == 0, "\(made.stderr)")
            let input = try ImageSource(url: URL(fileURLWithPath: w.path("\(filter)/input/skimage-002.png")))
            let target = try ImageSource(url: URL(fileURLWithPath: w.path("\(filter)/target/skimage-002.png")))
            #expect(input.colourBands == inputBands && target.colourBands == targetBands && input.width == 128 && target.width == 128)
            let run = try w.cli(["train", filter, "--inputs", w.path("\(filter)/input"), "--targets", w.path("\(filter)/target"),
                                 "--epochs", "1", "--steps", "3", "--batch", "8"])
            #expect(run.status == 0, "\(run.stderr)")
            let (_, metadata) = try Model.load(URL(fileURLWithPath: w.path("models/\(filter).safetensors")))
            #expect(metadata["tessera.style"] == style)
            #expect(metadata["tessera.provenance"]?.contains("\"data_digest\"") == true)
        }

        // An installed style is not replaced by accident; with --force the old one is kept beside.
        let installed = try Data(contentsOf: URL(fileURLWithPath: w.path("models/edges.safetensors")))
        let again = ["train", "edges", "--inputs", w.path("edges/input"), "--targets", w.path("edges/target"), "--epochs", "1", "--steps", "3",
                     "--batch", "8", "--seed", "2"]
        let refused = try w.cli(again)
        #expect(refused.status != 0 && refused.stderr.contains("style 'edges' is installed already") && refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: w.path("models/edges.safetensors"))) == installed)
        let forced = try w.cli(again + ["--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: w.path("models/edges.safetensors.bak"))) == installed)
        #expect(try Data(contentsOf: URL(fileURLWithPath: w.path("models/edges.safetensors"))) != installed)

        // At a working size the pairs are resized and the style records it; only CbCr styles may.
        let small = try w.cli(["train", "colorize-small", "--inputs", w.path("colorize/input"), "--targets", w.path("colorize/target"),
                               "--epochs", "1", "--steps", "3", "--batch", "8", "--working-size", "64"])
        #expect(small.status == 0, "\(small.stderr)")
        let style = try Style.load(URL(fileURLWithPath: w.path("models/colorize-small.safetensors")))
        #expect(style.workingSize == 64 && style.colour.output == .cbcr)
        #expect(try Model.load(style.file).metadata["tessera.metrics"]?.contains("\"chroma_gain\"") == true)
        let wrong = try w.cli(["train", "edges-small", "--inputs", w.path("edges/input"), "--targets", w.path("edges/target"),
                               "--epochs", "1", "--steps", "3", "--batch", "8", "--working-size", "64"])
        #expect(wrong.status != 0 && wrong.stderr.contains("needs a cbcr output"), "\(wrong.stderr)")
    }
}
