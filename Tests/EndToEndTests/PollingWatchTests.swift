// `watch: poll`, for an inbox on a network file system: the daemon finds files by listing the
// inbox, not through inotify, and runs them like any other.

import Foundation
import Testing

@Suite(.serialized, .tags(.slow)) struct PollingWatchTests {
    typealias Running = DaemonCommandTests.Running

    @Test func aPollingDaemonRunsWhatItFindsOnce() throws {
        let daemon = try Running(settings: ["watch": "poll", "poll_seconds": "0.5", "attempts": "1"])
        defer { daemon.stop() }
        let jobs = try AfterDoneTests.dropGoodAndBad(daemon)
        #expect(Set(jobs.compactMap { $0["status"] as? String }) == ["done", "failed"], "\(jobs)")
        let deadline = Date().addingTimeInterval(10)
        while try daemon.files("inbox/identity") != [] && Date() < deadline { usleep(100_000) }
        #expect(try daemon.files("outbox/identity") == ["good.png"])
        #expect(try daemon.files("archive/identity") == ["good.png"])
        usleep(1_500_000) // three more listings: nothing is queued again
        #expect(try daemon.jobs().count == 2)
    }

    @Test func otherWatchModesAreRefused() throws {
        let daemon = try Running(settings: ["watch": "fanotify"], start: false)
        defer { daemon.stop() }
        let run = try daemon.cli(["check"])
        #expect(run.status == 1 && run.stderr.contains("TESSERA_WATCH: watch: 'fanotify' is not inotify or poll"), "\(run.stderr)")
    }
}
