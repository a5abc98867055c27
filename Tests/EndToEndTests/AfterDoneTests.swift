// What becomes of an inbox file after its job: archived (the default; also on another file
// system), deleted (`after: delete`), or archived and removed later (`archive_days`). A failed
// file always goes to failed/, whatever the setting.

import Foundation
import Imaging
import Testing

@Suite(.serialized, .tags(.slow)) struct AfterDoneTests {
    typealias Running = DaemonCommandTests.Running

    /// Drops a good and a bad file into inbox/identity/ and waits for both jobs.
    static func dropGoodAndBad(_ daemon: Running) throws -> [[String: Any]] {
        try ImageFile.save(DaemonCommandTests.image(7), bitDepth: 8, to: daemon.root.appendingPathComponent("good.png"))
        try FileManager.default.moveItem(at: daemon.root.appendingPathComponent("good.png"), to: daemon.folder("inbox/identity/good.png"))
        try Data("not a png\n".utf8).write(to: daemon.folder("inbox/identity/bad.png"))
        return try daemon.waitForJobs(2)
    }

    static func events(_ daemon: Running, _ id: Any?) throws -> [String] {
        let detail = try JSONSerialization.jsonObject(with: Data(try daemon.cli(["job", "\(id ?? "")", "--json"]).stdout.utf8)) as? [String: Any]
        return (detail?["events"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
    }

    @Test func deleteRemovesTheSourceOfADoneJobOnlyAndTheDatabaseSaysSo() throws {
        let daemon = try Running(settings: ["after": "delete", "attempts": "1"])
        defer { daemon.stop() }
        let jobs = try Self.dropGoodAndBad(daemon)
        #expect(jobs.count == 2)
        let deadline = Date().addingTimeInterval(10)
        while try daemon.files("inbox/identity") != [] && Date() < deadline { usleep(100_000) }
        #expect(try daemon.files("inbox/identity") == [])
        #expect(try daemon.files("outbox/identity") == ["good.png"])
        #expect(try daemon.files("failed/identity") == ["bad.png", "bad.png.error.txt"])
        let archived = (try? daemon.files("archive/identity")) ?? []
        #expect(archived == [])
        let done = try #require(jobs.first { $0["status"] as? String == "done" })
        #expect(done["source_removed_at"] is Double, "\(done)")
        #expect(try Self.events(daemon, done["id"]).contains("source removed"))

        // A restart settles nothing again and removes nothing more.
        daemon.process.terminate()
        daemon.process.waitUntilExit()
        try daemon.start()
        usleep(1_000_000)
        #expect(try daemon.files("outbox/identity") == ["good.png"])
        #expect(try daemon.files("failed/identity") == ["bad.png", "bad.png.error.txt"])
        #expect(try daemon.jobs().count == 2)
    }

    @Test func archivedSourcesAreRemovedAfterArchiveDaysAndOnlyTheJobsOwnFile() throws {
        // 0.00003 days: 2.6 s.
        let daemon = try Running(settings: ["archive_days": "0.00003", "scan_seconds": "0.5", "attempts": "1"])
        defer { daemon.stop() }
        let jobs = try Self.dropGoodAndBad(daemon)
        #expect(jobs.count == 2)
        let archived = Date().addingTimeInterval(10)
        while (try? daemon.files("archive/identity")) != ["good.png"] && Date() < archived { usleep(100_000) }
        #expect(try daemon.files("archive/identity") == ["good.png"], "archived first")
        // Someone's own file in the archive is not the daemon's to remove.
        try Data("mine".utf8).write(to: daemon.folder("archive/identity/notes.txt"))
        let removed = Date().addingTimeInterval(15)
        while try daemon.files("archive/identity") != ["notes.txt"] && Date() < removed { usleep(200_000) }
        #expect(try daemon.files("archive/identity") == ["notes.txt"])
        #expect(try daemon.files("outbox/identity") == ["good.png"])
        #expect(try daemon.files("failed/identity") == ["bad.png", "bad.png.error.txt"], "failed files are kept")
        let done = try #require(try daemon.jobs().first { $0["status"] as? String == "done" })
        #expect(done["source_removed_at"] is Double, "\(done)")
    }

    @Test func badValuesOfAfterAndArchiveDaysAreRefused() throws {
        for (key, value, expected) in [("after", "shred", "after: 'shred' is not archive or delete"),
                                       ("archive_days", "-1", "archive_days: '-1' is not a number of days above 0")] {
            let daemon = try Running(settings: [key: value], start: false)
            defer { daemon.stop() }
            let run = try daemon.cli(["check"])
            #expect(run.status == 1 && run.stderr.contains("TESSERA_\(key.uppercased()): \(expected)"), "\(run.stderr)")
        }
    }

    /// archive/ on another file system (a tmpfs; needs root): the source is copied there and
    /// removed from the inbox once, not moved back as "another file" and queued again.
    @Test func anArchiveOnAnotherFileSystemTakesTheFileOnce() throws {
        let daemon = try Running(start: false)
        defer { daemon.stop() }
        let archive = daemon.folder("archive")
        try FileManager.default.createDirectory(at: archive, withIntermediateDirectories: true)
        guard daemon.mount(archive, "size=4m") else {
            Issue.record("cannot mount a tmpfs here (the test needs root)")
            return
        }
        defer { daemon.unmount(archive) }
        try daemon.start()
        try FileManager.default.createDirectory(at: daemon.folder("inbox/identity"), withIntermediateDirectories: true)
        let jobs = try Self.dropGoodAndBad(daemon)
        usleep(3_000_000) // time for a wrong move back and a second job
        #expect(try daemon.jobs().count == 2, "\(jobs)")
        #expect(try daemon.files("inbox/identity") == [])
        #expect(try daemon.files("archive/identity") == ["good.png"])
        #expect(try daemon.files("outbox/identity") == ["good.png"])
        try daemon.expectDatabasePathsAreReal("archive on a tmpfs")
    }
}
