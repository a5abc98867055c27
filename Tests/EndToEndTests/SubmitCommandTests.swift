// `tessera submit` as users run it: a bad name among good ones queues nothing and says why in one
// line; the same file for another style is a new job.

import ConvCore
import Foundation
import Imaging
import Synchronization
import Testing

@Suite struct SubmitCommandTests {
    @Test func badFileQueuesNothingAndStylesAreKeptApart() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-submit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        var environment = ProcessInfo.processInfo.environment
        environment["TESSERA_ROOT"] = root.appendingPathComponent("var").path
        environment["TESSERA_MODELS"] = URL(fileURLWithPath: StylizeCommandTests.identity).deletingLastPathComponent().path
        let good = root.appendingPathComponent("good.png"), missing = root.appendingPathComponent("missing.png")
        try ImageFile.save(Tensor(repeating: 0.5, shape: [1, 20, 30, 3]), bitDepth: 8, to: good)

        let refused = try tessera(["submit", good.path, missing.path, "--style", "identity"], environment: environment)
        #expect(refused.status != 0 && refused.stdout.isEmpty, "\(refused.stdout)")
        let lines = refused.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains(missing.path) && lines[0].contains("No such file"), "\(refused.stderr)")
        #expect(try tessera(["jobs", "--json"], environment: environment).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")

        let first = try tessera(["submit", good.path, "--style", "identity"], environment: environment)
        let other = try tessera(["submit", good.path, "--style", "edges"], environment: environment)
        let again = try tessera(["submit", good.path, "--style", "identity"], environment: environment)
        #expect(first.stdout == "job 1: \(good.path)\n" && other.stdout == "job 2: \(good.path)\n", "\(first.stdout)\(other.stdout)\(other.stderr)")
        #expect(again.stdout == "job 1: \(good.path) (already queued)\n", "\(again.stdout)")

        // No daemon runs here: status says so with exit 3, every key present.
        let status = try tessera(["status", "--json"], environment: environment)
        #expect(status.status == 3, "\(status.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(report["daemon_alive"] as? Bool == false && report["daemon_pid"] is NSNull && (report["counts"] as? [String: Int])?["queued"] == 2)
    }

    @Test func submitsOpeningANewDatabaseAtOnceAllSucceed() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-submit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let files = (0..<4).map { root.appendingPathComponent("photo\($0).png") }
        for file in files { try ImageFile.save(Tensor(repeating: 0.5, shape: [1, 8, 8, 3]), bitDepth: 8, to: file) }
        var environment = ProcessInfo.processInfo.environment
        environment["TESSERA_MODELS"] = URL(fileURLWithPath: StylizeCommandTests.identity).deletingLastPathComponent().path
        // Four processes creating the database at once, several times: each must migrate it or wait.
        for round in 0..<6 {
            environment["TESSERA_ROOT"] = root.appendingPathComponent("var\(round)").path
            let runs = Mutex<[Run]>([]), environment = environment
            DispatchQueue.concurrentPerform(iterations: files.count) { i in
                let run = try? tessera(["submit", files[i].path, "--style", "identity"], environment: environment)
                runs.withLock { $0.append(run ?? Run(status: -1, stdout: "", stderr: "not started")) }
            }
            let failed = runs.withLock { $0 }.filter { $0.status != 0 }
            #expect(failed.isEmpty, "round \(round): \(failed.map(\.stderr))")
            let jobs = try JSONSerialization.jsonObject(with: Data(try tessera(["jobs", "--json"], environment: environment).stdout.utf8)) as? [[String: Any]]
            #expect(jobs?.compactMap { $0["status"] as? String } == Array(repeating: "queued", count: files.count))
        }
    }

    @Test(.tags(.slow)) func aDoneFileRunsAgainOnlyWithForce() throws {
        let daemon = try DaemonCommandTests.Running()
        defer { daemon.stop() }
        let photo = daemon.root.appendingPathComponent("photo.png")
        try ImageFile.save(DaemonCommandTests.image(5), bitDepth: 8, to: photo)
        let first = try daemon.cli(["submit", photo.path, "--style", "identity", "--wait"])
        #expect(first.status == 0, "\(first.stderr)")
        let again = try daemon.cli(["submit", photo.path, "--style", "identity"])
        #expect(again.stdout.contains("(already done: ") && again.stdout.contains("--force runs it again"), "\(again.stdout)")
        let forced = try daemon.cli(["submit", photo.path, "--style", "identity", "--force", "--wait"])
        #expect(forced.status == 0 && forced.stdout.contains("(done before; queued again)"), "\(forced.stdout)\(forced.stderr)")
        let plainRetry = try daemon.cli(["retry", "1"])
        #expect(plainRetry.status != 0 && plainRetry.stderr.contains("job 1 is done; cannot retry it without --force"), "\(plainRetry.stderr)")
        #expect(try daemon.cli(["retry", "1", "--force"]).status == 0)
        _ = try daemon.waitForJobs(1)
        let deadline = Date().addingTimeInterval(30)
        while (try? daemon.files("outbox/identity").count) ?? 0 < 3 && Date() < deadline { usleep(100_000) }
        // Each run wrote its own output; the file itself stayed where it was.
        #expect(try daemon.files("outbox/identity") == ["photo-1.png", "photo-2.png", "photo.png"])
        #expect(FileManager.default.fileExists(atPath: photo.path))
    }
}
