// SIGKILL at random moments while files keep arriving, then a restart, again and again: at the end
// every file is in exactly one place with one output, as if nothing had happened. The regular suite
// runs a short storm; the full fault run (README, "Tests") sets TESSERA_FAULT_FILES=330 and
// TESSERA_FAULT_KILLS=20.

import Foundation
import Imaging
import JobStore
import Testing

@Suite(.serialized, .tags(.slow)) struct KillStormTests {
    typealias Running = DaemonCommandTests.Running

    static let environment = ProcessInfo.processInfo.environment
    static let files = Int(environment["TESSERA_FAULT_FILES"] ?? "") ?? 60
    static let kills = Int(environment["TESSERA_FAULT_KILLS"] ?? "") ?? 4

    @Test func killsWhileFilesArriveLoseAndDuplicateNothing() throws {
        let daemon = try Running(settings: ["workers": "2"])
        defer { daemon.stop() }
        let staging = daemon.root.appendingPathComponent("staging")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        var expected: [String: Data] = [:], bad: Set<String> = []
        for n in 0..<Self.files {
            let name = String(format: "f%03d.png", n)
            let url = staging.appendingPathComponent(name)
            try ImageFile.save(DaemonCommandTests.image(UInt64(1000 + n), width: 64 + n % 50, height: 48), bitDepth: 8, to: url)
            if n % 10 == 7 { // one in ten is truncated
                let data = try Data(contentsOf: url)
                try data.prefix(data.count / 2).write(to: url)
                bad.insert(name)
            }
            expected[name] = try Data(contentsOf: url)
        }
        var generator = SystemRandomNumberGenerator()
        let names = expected.keys.sorted()
        let batch = (names.count + Self.kills - 1) / Self.kills
        var killed = 0
        for (k, start) in stride(from: 0, to: names.count, by: batch).enumerated() {
            for name in names[start..<min(start + batch, names.count)] {
                #expect(rename(staging.appendingPathComponent(name).path, daemon.folder("inbox/identity/\(name)").path) == 0)
            }
            usleep(UInt32.random(in: 300_000...1_500_000, using: &generator))
            if k < Self.kills {
                kill(daemon.process.processIdentifier, SIGKILL)
                daemon.process.waitUntilExit()
                killed += 1
                try daemon.start()
            }
        }
        let deadline = Date().addingTimeInterval(Double(Self.files) + 60)
        func settled() -> Bool {
            let jobs = (try? daemon.jobs()) ?? []
            return ((try? daemon.files("inbox/identity")) ?? ["?"]).isEmpty && jobs.count == names.count
                && jobs.allSatisfy { ["done", "failed"].contains($0["status"] as? String) }
        }
        while !settled() && Date() < deadline { usleep(200_000) }
        print("kill storm: \(killed) SIGKILLs over \(names.count) files")
        #expect(killed == Self.kills)
        let archive = try daemon.files("archive/identity"), failed = try daemon.files("failed/identity"), outbox = try daemon.files("outbox/identity")
        let good = Set(names).subtracting(bad)
        #expect(Set(archive) == good && archive.count == good.count, "lost or duplicated in archive/: \(Set(good).symmetricDifference(archive))")
        #expect(Set(outbox) == good && outbox.count == good.count, "outputs: \(Set(good).symmetricDifference(outbox))")
        #expect(Set(failed) == Set(bad.flatMap { [$0, $0 + ".error.txt"] }), "failed/: \(failed)")
        #expect(try daemon.files("inbox/identity").isEmpty)
        for name in archive { #expect(try Data(contentsOf: daemon.folder("archive/identity/\(name)")) == expected[name], "\(name) changed") }
        for name in bad { #expect(try Data(contentsOf: daemon.folder("failed/identity/\(name)")) == expected[name], "\(name) changed") }
        let jobs = try daemon.jobs()
        #expect(jobs.count == names.count, "\(jobs.count) jobs for \(names.count) files")
        try daemon.expectDatabasePathsAreReal("kill storm")
    }
}
