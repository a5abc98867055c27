// The daemon as it runs in production: the built binary on temporary folders, files dropped in
// inbox/<style>/ (copied, written slowly, moved in, broken), outputs checked, the job CLI read.

import ConvCore
import Foundation
import Imaging
import Testing

@Suite(.serialized) struct DaemonTests {
    /// A daemon over a fresh root with the identity style and a spec-based "tint" style.
    final class Running {
        let root: URL
        let process = Process()
        var environment: [String: String]

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-daemon-\(UUID().uuidString)")
            let models = root.appendingPathComponent("models")
            try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: StylizeCommandTests.identity, toPath: models.appendingPathComponent("identity.safetensors").path)
            let spec = root.appendingPathComponent("tint.json")
            try Data(#"{"name": "tint", "input": {"name": "input", "shape": [36, 36, 3]}, "layers": [{"name": "c", "type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same", "activation": "sigmoid"}, {"name": "out", "type": "Cropping2D", "cropping": 10}], "outputs": ["out"]}"#.utf8).write(to: spec)
            let made = try tessera(["model", "init", spec.path, models.appendingPathComponent("tint.safetensors").path])
            precondition(made.status == 0, made.stderr)
            environment = ProcessInfo.processInfo.environment
            environment["TESSERA_ROOT"] = root.appendingPathComponent("var").path
            environment["TESSERA_MODELS"] = models.path
            environment["TESSERA_STABLE_SECONDS"] = "0.5"
            process.executableURL = tesseraBinary
            process.arguments = ["daemon"]
            process.environment = environment
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            let inbox = root.appendingPathComponent("var/inbox/tint")
            let deadline = Date().addingTimeInterval(20)
            while !FileManager.default.fileExists(atPath: inbox.path) && Date() < deadline { usleep(50_000) }
        }

        func folder(_ path: String) -> URL { root.appendingPathComponent("var/\(path)") }

        func cli(_ arguments: [String]) throws -> Run { try tessera(arguments, environment: environment) }

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

        func stop() {
            if process.isRunning { process.terminate(); process.waitUntilExit() }
            try? FileManager.default.removeItem(at: root)
        }
    }

    static func image(_ seed: UInt64, width: Int = 48, height: Int = 40) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor(shape: [1, height, width, 3], scalars: (0..<(width * height * 3)).map { _ in g.nextUnitFloat() })
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
        FileManager.default.createFile(atPath: daemon.folder("inbox/identity/slow.png").path, contents: nil)
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
        let daemon = try Running()
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
        ]
        try FileManager.default.copyItem(at: good, to: daemon.folder("inbox/identity/before.png"))
        for (name, data) in bad { try data.write(to: daemon.folder("inbox/identity/\(name)")) }
        try FileManager.default.copyItem(at: good, to: daemon.folder("inbox/identity/after.png"))
        let jobs = try daemon.waitForJobs(5)
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
        #expect((report?["counts"] as? [String: Int])?["failed"] == 3)
    }
}
