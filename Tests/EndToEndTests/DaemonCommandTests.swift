// The daemon as it runs in production: the built binary on temporary folders, files dropped in
// inbox/<style>/ (copied, written slowly, moved in, broken), outputs checked, the job CLI read.

import ConvCore
import Daemon
import Foundation
import Imaging
import JobStore
import Styles
import Synchronization
import Testing
import Training

@Suite(.serialized, .tags(.slow)) struct DaemonCommandTests {
    /// A daemon over a fresh root with the identity style and a spec-based "tint" style; its log
    /// goes to <root>/daemon.log. With `relativeRoot` it and the job commands run in <root> on
    /// the default root, ./var, as the README's command runs it.
    final class Running {
        let root: URL
        var process = Process()
        var environment: [String: String]
        let relativeRoot: Bool

        init(settings: [String: String] = [:], start: Bool = true, relativeRoot: Bool = false) throws {
            self.relativeRoot = relativeRoot
            root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-daemon-\(UUID().uuidString)")
            let models = root.appendingPathComponent("models")
            try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: StylizeCommandTests.identity, toPath: models.appendingPathComponent("identity.safetensors").path)
            let spec = root.appendingPathComponent("tint.json")
            try Data(#"{"name": "tint", "input": {"name": "input", "shape": [36, 36, 3]}, "layers": [{"name": "c", "type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same", "activation": "sigmoid"}, {"name": "out", "type": "Cropping2D", "cropping": 10}], "outputs": ["out"]}"#.utf8).write(to: spec)
            let made = try tessera(["model", "init", spec.path, models.appendingPathComponent("tint.safetensors").path])
            precondition(made.status == 0, made.stderr)
            environment = ProcessInfo.processInfo.environment
            environment["TESSERA_ROOT"] = relativeRoot ? "./var" : root.appendingPathComponent("var").path
            environment["TESSERA_MODELS"] = models.path
            environment["TESSERA_STABLE_SECONDS"] = "0.5"
            for (key, value) in settings { environment["TESSERA_\(key.uppercased())"] = value }
            if start { try self.start() }
        }

        /// Starts the daemon (again), under `wrapper` (a command such as strace that runs it) if
        /// given, and waits until it watches the style folders (or has died).
        func start(wrapper: [String] = []) throws {
            process = Process()
            process.executableURL = wrapper.isEmpty ? tesseraBinary : URL(fileURLWithPath: wrapper[0])
            process.arguments = Array(wrapper.dropFirst()) + (wrapper.isEmpty ? [] : [tesseraBinary.path]) + ["daemon"] + (getuid() == 0 ? ["--allow-root"] : [])
            process.environment = environment
            if relativeRoot { process.currentDirectoryURL = root }
            process.standardError = try appendingHandle(to: root.appendingPathComponent("daemon.log"))
            try process.run()
            let deadline = Date().addingTimeInterval(20)
            while !FileManager.default.fileExists(atPath: folder("inbox/tint").path) && process.isRunning && Date() < deadline { usleep(50_000) }
            while (try? cli(["status", "--json"]).stdout.contains("\"daemon_alive\":true")) != true && process.isRunning && Date() < deadline {
                usleep(50_000)
            }
        }

        func folder(_ path: String) -> URL { root.appendingPathComponent("var/\(path)") }

        func files(_ path: String) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: folder(path).path).sorted() }

        func cli(_ arguments: [String]) throws -> Run { try tessera(arguments, environment: environment, directory: relativeRoot ? root : nil) }

        func store() throws -> SQLiteStore { try SQLiteStore(readingAt: folder("tessera.sqlite").path) }

        func jobs() throws -> [[String: Any]] {
            let run = try cli(["jobs", "--json", "--limit", "1000"])
            return (try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]]) ?? []
        }

        /// Waits until `count` jobs are done or failed.
        func waitForJobs(_ count: Int, timeout: Double = 90) throws -> [[String: Any]] {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let all = try jobs()
                if all.filter({ ["done", "failed"].contains($0["status"] as? String) }).count >= count { return all }
                usleep(200_000)
            }
            return try jobs()
        }

        /// Every job's source is where the database says, out of the inbox, and every done job's output exists.
        func expectDatabasePathsAreReal(_ context: String) throws {
            for job in try jobs() {
                let source = job["source"] as? String ?? ""
                #expect(FileManager.default.fileExists(atPath: source) && !source.contains("/inbox/"), "\(context): stale path: \(job)")
                if job["status"] as? String == "done" {
                    #expect(FileManager.default.fileExists(atPath: job["output"] as? String ?? "-"), "\(context): \(job)")
                }
            }
        }

        func stop() {
            if process.isRunning { process.terminate(); process.waitUntilExit() }
            try? FileManager.default.removeItem(at: root)
        }

        /// Mounts a tmpfs at `folder` with `options` (`size=512k`), or changes its options with
        /// `remount,...`; false where mounting is not allowed (not root).
        func mount(_ folder: URL, _ options: String) -> Bool {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/mount")
            p.arguments = options.hasPrefix("remount") ? ["-o", options, folder.path] : ["-t", "tmpfs", "-o", options, "tmpfs", folder.path]
            guard (try? p.run()) != nil else { return false }
            p.waitUntilExit()
            return p.terminationStatus == 0
        }

        /// Stops the daemon (it holds its folders open) and unmounts `folder`.
        func unmount(_ folder: URL) {
            if process.isRunning { process.terminate(); process.waitUntilExit() }
            #expect(umount2(folder.path, Int32(MNT_DETACH)) == 0)
        }
    }

    static func image(_ seed: UInt64, width: Int = 48, height: Int = 40) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor(shape: [1, height, width, 3], scalars: (0..<(width * height * 3)).map { _ in g.nextUnitFloat() })
    }

    /// Each shipped style through the daemon as a user drops a photo in: the output has the photo's
    /// size and is closer to the style's reference than the baseline (the photo itself, a flat
    /// image, the grey input); every shipped style takes the region path (colorize's full-size pass).
    @Test func shippedStylesRunThroughTheDaemon() throws {
        let daemon = try Running()
        defer { daemon.stop() }
        let repository = URL(fileURLWithPath: StylizeCommandTests.identity).deletingLastPathComponent()
        for filter in ReferenceFilter.allCases {
            let model = repository.appendingPathComponent("\(filter.rawValue).safetensors")
            #expect(Stylizer(style: try Style.load(model)).takesRegionPath, "\(filter.rawValue) is tiled")
            try FileManager.default.copyItem(at: model, to: daemon.root.appendingPathComponent("models/\(filter.rawValue).safetensors"))
        }
        kill(daemon.process.processIdentifier, SIGHUP)
        let ready = Date().addingTimeInterval(20)
        while try daemon.store().styles().count < 5 && Date() < ready { usleep(50_000) }
        let photo = repository.deletingLastPathComponent().appendingPathComponent("Tests/EndToEndTests/Fixtures/new-photo/scribus-005.jpg")
        var pairs: [ReferenceFilter: (input: Tensor, target: Tensor)] = [:]
        for filter in ReferenceFilter.allCases {
            let staging = daemon.root.appendingPathComponent("staging-\(filter.rawValue)")
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
            let (input, target) = (staging.appendingPathComponent("photo.png"), staging.appendingPathComponent("target.png"))
            try filter.makePair(from: photo, longSide: 300, input: input, target: target)
            pairs[filter] = (try ImageFile.load(input).pixels, try ImageFile.load(target).pixels)
            try FileManager.default.createDirectory(at: daemon.folder("inbox/\(filter.rawValue)"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: input, to: daemon.folder("inbox/\(filter.rawValue)/photo.png"))
        }
        let jobs = try daemon.waitForJobs(3)
        #expect(jobs.count == 3 && jobs.allSatisfy { $0["status"] as? String == "done" }, "\(jobs)")
        for (filter, pair) in pairs {
            let output = try ImageFile.load(daemon.folder("outbox/\(filter.rawValue)/photo.png")).pixels
            #expect(output.shape == pair.target.shape, "\(filter.rawValue): \(output.shape) for \(pair.target.shape)")
            guard output.shape == pair.target.shape else { continue }
            let baseline: Tensor
            switch filter {
            case .posterize: baseline = pair.input
            case .edges: baseline = Tensor(repeating: pair.target.scalars.reduce(0, +) / Float(pair.target.count), shape: pair.target.shape)
            case .colorize: baseline = Tensor(shape: pair.target.shape, scalars: pair.input.scalars.flatMap { [$0, $0, $0] })
            }
            let (psnr, baselinePSNR) = (Evaluation.psnr(output, pair.target), Evaluation.psnr(baseline, pair.target))
            #expect(psnr > baselinePSNR, "\(filter.rawValue): \(psnr) dB, baseline \(baselinePSNR) dB")
        }
    }

    @Test func twentyImagesOverTwoStylesComeOutOnceEach() throws {
        let daemon = try Running()
        defer { daemon.stop() }
        let staging = daemon.root.appendingPathComponent("staging")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        var inputs: [String: Tensor] = [:]
        for i in 0..<18 {
            let style = i % 2 == 0 ? "identity" : "tint"
            let name = "img\(i).png"
            let made = staging.appendingPathComponent(name)
            try ImageFile.save(Self.image(UInt64(i)), bitDepth: 8, to: made)
            inputs[name] = try ImageFile.load(made).pixels
            try FileManager.default.copyItem(at: made, to: daemon.folder("inbox/\(style)/\(name)"))
        }
        // One moved in, one written slowly in chunks over two seconds.
        let moved = staging.appendingPathComponent("moved.png")
        try ImageFile.save(Self.image(100), bitDepth: 8, to: moved)
        inputs["moved.png"] = try ImageFile.load(moved).pixels
        try FileManager.default.moveItem(at: moved, to: daemon.folder("inbox/identity/moved.png"))
        let slow = staging.appendingPathComponent("slow.png")
        try ImageFile.save(Self.image(101, width: 300, height: 200), bitDepth: 8, to: slow)
        inputs["slow.png"] = try ImageFile.load(slow).pixels
        let bytes = try Data(contentsOf: slow)
        _ = FileManager.default.createFile(atPath: daemon.folder("inbox/identity/slow.png").path, contents: nil)
        let handle = try FileHandle(forWritingTo: daemon.folder("inbox/identity/slow.png"))
        for chunk in 0..<10 {
            try handle.write(contentsOf: bytes[(chunk * bytes.count / 10)..<((chunk + 1) * bytes.count / 10)])
            usleep(200_000)
        }
        try handle.close()

        let jobs = try daemon.waitForJobs(20)
        #expect(jobs.count == 20)
        #expect(jobs.allSatisfy { $0["status"] as? String == "done" }, "\(jobs.map { "\($0["source"] ?? "") \($0["status"] ?? "") \($0["error"] ?? "")" })")
        for style in ["identity", "tint"] {
            let outputs = try FileManager.default.contentsOfDirectory(atPath: daemon.folder("outbox/\(style)").path)
            #expect(outputs.count == (style == "identity" ? 11 : 9), "\(style): \(outputs)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: daemon.folder("archive/\(style)").path).sorted() == outputs.sorted())
            if style == "identity" {
                for name in outputs { #expect(try ImageFile.load(daemon.folder("outbox/identity/\(name)")).pixels == inputs[name], "\(name)") }
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: daemon.folder("inbox/identity").path).isEmpty)
    }

    @Test func badInputsFailIntoFailedAndTheDaemonGoesOn() throws {
        let daemon = try Running(settings: ["max_megapixels": "1"])
        defer { daemon.stop() }
        let good = daemon.root.appendingPathComponent("good.png")
        try ImageFile.save(Self.image(7), bitDepth: 8, to: good)
        let jpeg = daemon.root.appendingPathComponent("photo.jpg")
        try ImageFile.save(Self.image(8, width: 200, height: 150), bitDepth: 8, to: jpeg)
        let jpegBytes = try Data(contentsOf: jpeg)
        let bad: [String: Data] = [
            "corrupt.jpg": jpegBytes.prefix(jpegBytes.count / 2),
            "text.png": Data("not a png\n".utf8),
            "zero.jpg": Data(),
            "large.png": try { () throws -> Data in
                let large = daemon.root.appendingPathComponent("large.png")
                try ImageFile.save(Self.image(9, width: 1200, height: 900), bitDepth: 8, to: large)
                return try Data(contentsOf: large)
            }(),
        ]
        try FileManager.default.copyItem(at: good, to: daemon.folder("inbox/identity/before.png"))
        for (name, data) in bad { try data.write(to: daemon.folder("inbox/identity/\(name)")) }
        try FileManager.default.copyItem(at: good, to: daemon.folder("inbox/identity/after.png"))
        let jobs = try daemon.waitForJobs(6)
        let byName = Dictionary(uniqueKeysWithValues: jobs.map { (($0["source"] as! String as NSString).lastPathComponent, $0) })
        #expect(byName["before.png"]?["status"] as? String == "done" && byName["after.png"]?["status"] as? String == "done")
        for name in bad.keys {
            #expect(byName[name]?["status"] as? String == "failed", "\(name)")
            let errorFile = daemon.folder("failed/identity/\(name).error.txt")
            let reason = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
            #expect(reason.contains(name) && reason.split(separator: "\n").count == 1, "\(name): \(reason)")
            #expect(try Data(contentsOf: daemon.folder("failed/identity/\(name)")) == bad[name])
        }
        let status = try daemon.cli(["status", "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        #expect(report?["daemon_alive"] as? Bool == true)
        #expect((report?["counts"] as? [String: Int])?["failed"] == 4)
        #expect(byName["large.png"]?["error"] as? String ?? "" == daemon.folder("inbox/identity/large.png").path
            + ": 1200x900 is 1.1 megapixels, over the limit of 1.0 megapixels")
    }

    /// A job that failed for want of its style is retried once the style is installed: it reads
    /// its source from failed/, archives it and removes the error file that no longer holds.
    @Test func aRetryThatSucceedsLeavesNoStaleErrorFile() throws {
        let daemon = try Running()
        defer { daemon.stop() }
        try FileManager.default.createDirectory(at: daemon.folder("inbox/later"), withIntermediateDirectories: true)
        try ImageFile.save(Self.image(11), bitDepth: 8, to: daemon.folder("inbox/later/photo.png"))
        let failed = try daemon.waitForJobs(1)
        #expect(failed.first?["status"] as? String == "failed")
        #expect(try daemon.files("failed/later") == ["photo.png", "photo.png.error.txt"])
        try FileManager.default.copyItem(atPath: StylizeCommandTests.identity, toPath: daemon.root.appendingPathComponent("models/later.safetensors").path)
        let id = "\(failed.first?["id"] as? Int ?? 0)"
        #expect(try daemon.cli(["retry", id]).status == 0)
        let deadline = Date().addingTimeInterval(30)
        while try daemon.jobs().first?["status"] as? String != "done" && Date() < deadline { usleep(100_000) }
        usleep(300_000)
        #expect(try daemon.files("failed/later") == [])
        #expect(try daemon.files("archive/later") == ["photo.png"])
        #expect(try daemon.files("outbox/later") == ["photo.png"])
        #expect(try daemon.jobs().first?["source"] as? String == daemon.folder("archive/later/photo.png").path)
    }

    /// On the default relative root a bad input still fails on its first attempt (its error names
    /// the file by its absolute path, the job by the relative one).
    @Test func badInputFailsAtOnceUnderARelativeRoot() throws {
        let daemon = try Running(settings: ["scan_seconds": "0.5"], relativeRoot: true)
        defer { daemon.stop() }
        try Data("not a png\n".utf8).write(to: daemon.folder("inbox/identity/text.png"))
        let jobs = try daemon.waitForJobs(1, timeout: 30)
        #expect(jobs.count == 1 && jobs.first?["status"] as? String == "failed" && jobs.first?["attempts"] as? Int == 1, "\(jobs)")
        #expect(FileManager.default.fileExists(atPath: daemon.folder("failed/identity/text.png.error.txt").path))

        // A folder no style is named after fails its file at once too, and says why.
        try FileManager.default.createDirectory(at: daemon.folder("inbox/nosuchstyle"), withIntermediateDirectories: true)
        try ImageFile.save(Self.image(9), bitDepth: 8, to: daemon.folder("inbox/nosuchstyle/photo.png"))
        let both = try daemon.waitForJobs(2, timeout: 30)
        let unknown = both.first { $0["style"] as? String == "nosuchstyle" }
        #expect(unknown?["status"] as? String == "failed" && unknown?["attempts"] as? Int == 1, "\(both)")
        #expect((unknown?["error"] as? String ?? "").contains("unknown style 'nosuchstyle'"), "\(both)")
        let reason = (try? String(contentsOf: daemon.folder("failed/nosuchstyle/photo.png.error.txt"), encoding: .utf8)) ?? ""
        #expect(reason.contains("unknown style 'nosuchstyle'"), "\(reason)")

        // A subfolder of a style folder is not read, and the log says so once (across rescans).
        try FileManager.default.createDirectory(at: daemon.folder("inbox/identity/2024"), withIntermediateDirectories: true)
        try ImageFile.save(Self.image(10), bitDepth: 8, to: daemon.folder("inbox/identity/2024/deep.png"))
        try ImageFile.save(Self.image(12), bitDepth: 8, to: daemon.folder("inbox/identity/after.png"))
        let three = try daemon.waitForJobs(3, timeout: 30)
        usleep(1_500_000)
        #expect(three.count == 3 && !three.contains { ($0["source"] as? String ?? "").contains("deep.png") }, "\(three)")
        let log = (try? String(contentsOf: daemon.root.appendingPathComponent("daemon.log"), encoding: .utf8)) ?? ""
        let said = log.split(separator: "\n").filter { $0.contains("2024: subfolders of a style folder are not read") }
        #expect(said.count == 1, "\(said)")
        #expect(try daemon.files("inbox/identity/2024") == ["deep.png"])
    }

    /// kill -9 while one job runs and others wait: after a restart each job is done exactly once,
    /// each output exists once, nothing is left in the inbox or as a temporary file.
    /// Under systemd (JOURNAL_STREAM names stderr) lines carry syslog priorities, and a log level
    /// keeps only what is at least that important.
    @Test func journalLinesCarryPrioritiesAtTheChosenLevel() throws {
        let daemon = try Running(settings: ["log_level": "warning"], start: false)
        defer { daemon.stop() }
        let log = daemon.root.appendingPathComponent("daemon.log")
        #expect(FileManager.default.createFile(atPath: log.path, contents: nil))
        var s = stat()
        #expect(stat(log.path, &s) == 0)
        daemon.environment["JOURNAL_STREAM"] = "\(s.st_dev):\(s.st_ino)"
        try daemon.start()
        try ImageFile.save(Self.image(11), bitDepth: 8, to: daemon.folder("inbox/identity/good.png"))
        try Data("not an image".utf8).write(to: daemon.folder("inbox/identity/bad.png"))
        _ = try daemon.waitForJobs(2)
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("<3>job ") && $0.contains("bad.png: unsupported format") }, "\(lines)")
        #expect(lines.allSatisfy { $0.hasPrefix("<4>") || $0.hasPrefix("<3>") || $0.hasPrefix("<2>") }, "\(lines)")
        #expect(!lines.contains { $0.contains("tessera daemon started") || $0.contains("queued") })
    }

    @Test func killNineThenRestartCompletesEveryJobOnce() throws {
        let daemon = try Running(settings: ["workers": "1", "threads": "1"])
        defer { daemon.stop() }
        let staging = daemon.root.appendingPathComponent("staging")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        // A big smooth JPEG through a deliberately heavy style (about 23k multiply-adds per pixel)
        // keeps the single worker busy for several seconds, however fast the machine's identity is.
        let spec = daemon.root.appendingPathComponent("slow.json")
        try Data(#"{"name": "slow", "input": {"name": "input", "shape": [36, 36, 3]}, "layers": [{"name": "a", "type": "Conv2D", "filters": 48, "kernel_size": 3, "padding": "same", "activation": "relu"}, {"name": "b", "type": "Conv2D", "filters": 48, "kernel_size": 3, "padding": "same", "activation": "relu"}, {"name": "c", "type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same", "activation": "sigmoid"}, {"name": "out", "type": "Cropping2D", "cropping": 10}], "outputs": ["out"]}"#.utf8).write(to: spec)
        #expect(try tessera(["model", "init", spec.path, daemon.root.appendingPathComponent("models/slow.safetensors").path]).status == 0)
        kill(daemon.process.processIdentifier, SIGHUP)
        let ready = Date().addingTimeInterval(20)
        while try !daemon.store().styles().contains(where: { $0.name == "slow" }) && Date() < ready { usleep(50_000) }
        try FileManager.default.createDirectory(at: daemon.folder("inbox/slow"), withIntermediateDirectories: true)
        let big = staging.appendingPathComponent("big.jpg")
        let (width, height) = (4000, 3000)
        var pixels = [Float](repeating: 0, count: width * height * 3)
        for y in 0..<height { for x in 0..<width { for c in 0..<3 { pixels[(y * width + x) * 3 + c] = Float((x + y * (c + 1)) % 256) / 255 } } }
        try ImageFile.save(Tensor(shape: [1, height, width, 3], scalars: pixels), bitDepth: 8, to: big)
        try FileManager.default.moveItem(at: big, to: daemon.folder("inbox/slow/big.jpg"))
        let store = try daemon.store()
        func count(_ status: Job.Status) throws -> Int { try store.jobs(status: status, limit: 1000).count }
        var deadline = Date().addingTimeInterval(30)
        while try count(.running) == 0 && Date() < deadline { usleep(20_000) }
        var inputs: [String: Tensor] = [:]
        for i in 0..<10 {
            let made = staging.appendingPathComponent("small\(i).png")
            try ImageFile.save(Self.image(UInt64(200 + i)), bitDepth: 8, to: made)
            inputs[made.lastPathComponent] = try ImageFile.load(made).pixels
            try FileManager.default.moveItem(at: made, to: daemon.folder("inbox/identity/\(made.lastPathComponent)"))
        }
        deadline = Date().addingTimeInterval(30)
        while try count(.queued) < 10 && Date() < deadline { usleep(20_000) }
        let (running, queued) = (try count(.running), try count(.queued))
        kill(daemon.process.processIdentifier, SIGKILL)
        daemon.process.waitUntilExit()
        #expect(running == 1 && queued == 10, "running \(running), queued \(queued) at the kill")

        try daemon.start()
        let jobs = try daemon.waitForJobs(11)
        #expect(jobs.count == 11 && jobs.allSatisfy { $0["status"] as? String == "done" }, "\(jobs.map { "\($0["source"] ?? "") \($0["status"] ?? "")" })")
        for job in try store.jobs(limit: 1000) {
            let events = try store.job(job.id)?.1 ?? []
            #expect(events.filter { $0.kind == "done" }.count == 1, "job \(job.id): \(events.map(\.kind))")
        }
        let names = inputs.keys.sorted()
        #expect(try daemon.files("outbox/identity") == names) // no -1 duplicates, no temporary files
        #expect(try daemon.files("archive/identity") == names)
        #expect(try daemon.files("inbox/identity").isEmpty)
        #expect(try daemon.files("outbox/slow") == ["big.jpg"] && daemon.files("archive/slow") == ["big.jpg"] && daemon.files("inbox/slow").isEmpty)
        for (name, pixels) in inputs { #expect(try ImageFile.load(daemon.folder("outbox/identity/\(name)")).pixels == pixels, "\(name)") }
        let bigOut = try ImageSource(url: daemon.folder("outbox/slow/big.jpg"))
        #expect(bigOut.width == width && bigOut.height == height)
    }

    /// Ten clients list jobs and ask for the status for ten seconds while the daemon works through
    /// a steady stream of files: every answer succeeds and parses.
    @Test func tenReadersWhileTheDaemonWrites() throws {
        let daemon = try Running()
        defer { daemon.stop() }
        let staging = daemon.root.appendingPathComponent("staging")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        let sample = staging.appendingPathComponent("sample.png")
        try ImageFile.save(Self.image(300, width: 256, height: 256), bitDepth: 8, to: sample)
        let end = Date().addingTimeInterval(10)
        final class Answers: Sendable { let state = Mutex((count: 0, bad: [String]())) }
        let answers = Answers()
        let clients = DispatchGroup(), environment = daemon.environment
        for client in 0..<10 {
            DispatchQueue.global().async(group: clients) {
                var n = 0
                while Date() < end {
                    let arguments = n % 2 == 0 ? ["jobs", "--json"] : ["status", "--json"]
                    n += 1
                    let outcome: String?
                    do {
                        let run = try tessera(arguments, environment: environment)
                        if run.status != 0 || !run.stderr.isEmpty { outcome = "exit \(run.status): \(run.stderr)" }
                        else if (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8))) == nil { outcome = "unparsable: \(run.stdout.prefix(200))" }
                        else { outcome = nil }
                    } catch { outcome = "\(error)" }
                    answers.state.withLock { a in
                        a.count += 1
                        if let outcome { a.bad.append("client \(client) \(arguments[0]): \(outcome)") }
                    }
                }
            }
        }
        var dropped = 0
        while Date() < end {
            try FileManager.default.copyItem(at: sample, to: staging.appendingPathComponent("f\(dropped).png"))
            try FileManager.default.moveItem(at: staging.appendingPathComponent("f\(dropped).png"), to: daemon.folder("inbox/identity/f\(dropped).png"))
            dropped += 1
            usleep(50_000)
        }
        clients.wait()
        let (count, bad) = answers.state.withLock { ($0.count, $0.bad) }
        let done = try daemon.store().jobs(status: .done, limit: 10_000).count
        #expect(bad.isEmpty, "\(bad.count) of \(count) answers failed: \(bad.prefix(5))")
        print("\(count) answers from 10 readers in 10 s, \(done) of \(dropped) jobs done meanwhile")
        #expect(count >= 20 && done >= 10, "\(count) answers, \(done) of \(dropped) jobs done")
    }

    /// The daemon registers the styles it serves in SQLite, and SIGHUP reads the models folder again.
    @Test func stylesAreRegisteredAndReloadedOnHangup() throws {
        let daemon = try Running()
        defer { daemon.stop() }
        #expect(try daemon.store().styles().map(\.name) == ["identity", "tint"])
        let models = daemon.root.appendingPathComponent("models")
        try FileManager.default.copyItem(at: models.appendingPathComponent("tint.safetensors"), to: models.appendingPathComponent("tint2.safetensors"))
        kill(daemon.process.processIdentifier, SIGHUP)
        let deadline = Date().addingTimeInterval(10)
        while try daemon.store().styles().count < 3 && Date() < deadline { usleep(50_000) }
        let styles = try daemon.store().styles()
        #expect(styles.map(\.name) == ["identity", "tint", "tint2"])
        #expect(styles.last?.digest == (try ContentDigest.of(file: models.appendingPathComponent("tint2.safetensors").path)))
        #expect(daemon.process.isRunning)
    }

    /// The window kill -9 can hit between the output's rename and the job's "done": the restarted
    /// daemon records the output the dead one wrote instead of writing it again, and removes the
    /// dead writer's temporary file.
    @Test func outputWrittenBeforeTheCrashIsRecordedNotRedone() throws {
        let daemon = try Running(start: false)
        defer { daemon.stop() }
        for folder in ["inbox/identity", "outbox/identity"] { try FileManager.default.createDirectory(at: daemon.folder(folder), withIntermediateDirectories: true) }
        let source = daemon.folder("inbox/identity/a.png"), output = daemon.folder("outbox/identity/a.png")
        try ImageFile.save(Self.image(400), bitDepth: 8, to: source)
        try FileManager.default.copyItem(at: source, to: output)
        let stale = daemon.folder("outbox/identity/.b.png.tessera-\(Int32.max)-7.png")
        try Data("half".utf8).write(to: stale)
        let store = try SQLiteStore(path: daemon.folder("tessera.sqlite").path)
        let job = try store.enqueue(try NewJob(file: source.path, style: "identity", origin: .inbox))
        let lease = try #require(try store.claim(worker: "gone:1")?.lease)
        #expect(job.added && lease.job == job.id)
        #expect(try store.reserveOutput(lease) { _ in output.path } == output.path)

        try daemon.start()
        let jobs = try daemon.waitForJobs(1, timeout: 30)
        #expect(jobs.count == 1 && jobs.first?["status"] as? String == "done")
        let events = try store.job(job.id)?.1.map(\.kind) ?? []
        #expect(events == ["queued", "started", "recovered", "started", "done", "moved"], "\(events)")
        #expect(try daemon.files("outbox/identity") == ["a.png"])
        #expect(try daemon.files("archive/identity") == ["a.png"])
        #expect(!FileManager.default.fileExists(atPath: stale.path))
    }

    /// Under systemd (Type=notify): READY=1 once it watches, WATCHDOG=1 at twice the rate asked,
    /// STOPPING=1 on SIGTERM. The test plays systemd's notification socket.
    @Test func notifiesSystemdOfReadinessWatchdogAndStop() throws {
        let daemon = try Running(start: false)
        defer { daemon.stop() }
        let path = daemon.root.appendingPathComponent("notify").path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func receive(for seconds: Double) -> [String] {
            var messages: [String] = [], buffer = [UInt8](repeating: 0, count: 4096)
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 { messages.append(String(decoding: buffer[0..<n], as: UTF8.self)) }
            }
            return messages
        }
        daemon.environment["NOTIFY_SOCKET"] = path
        daemon.environment["WATCHDOG_USEC"] = "1000000"
        try daemon.start()
        let running = receive(for: 3)
        #expect(running.first?.hasPrefix("READY=1\n") == true, "\(running)")
        #expect(running.filter { $0 == "WATCHDOG=1" }.count >= 4, "\(running)")
        daemon.process.terminate()
        daemon.process.waitUntilExit()
        let stopping = receive(for: 0.5)
        #expect(stopping.contains("STOPPING=1") && daemon.process.terminationStatus == 0, "\(stopping)")
    }
}
