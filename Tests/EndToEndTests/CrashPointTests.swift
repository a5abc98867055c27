// The daemon killed at chosen system calls on a file's way (strace's fault injection: SIGKILL on
// entry to the Nth call), then started again: the end state must be as if nothing happened.
// Needs strace (Debian's package; the README's test command installs it).

import Foundation
import Imaging
import JobStore
import Testing

@Suite(.serialized, .tags(.slow)) struct CrashPointTests {
    typealias Running = DaemonCommandTests.Running

    /// Where a file's way can be cut: the source's move (done, then failed), the error file's
    /// rename, the output's link and the temporary's unlink, and the first fsyncs (temporaries,
    /// folders, the database), each counted in the one worker thread.
    static let points: [(call: String, nth: Int)] = [("renameat2", 1), ("renameat2", 2), ("renameat", 1), ("link", 1), ("unlink", 1),
                                                      ("fsync", 1), ("fsync", 2), ("fsync", 3), ("fsync", 4), ("fsync", 5)]

    static let strace = ["/usr/bin/strace", "/bin/strace"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(arguments: points) func killedAtACallThenRestarted(_ call: String, _ nth: Int) throws {
        guard let strace = Self.strace else {
            Issue.record("strace is not installed (apt-get install -y strace)")
            return
        }
        let daemon = try Running(settings: ["workers": "1"], start: false)
        defer { daemon.stop() }
        try FileManager.default.createDirectory(at: daemon.folder("inbox/identity"), withIntermediateDirectories: true)
        try ImageFile.save(DaemonCommandTests.image(5), bitDepth: 8, to: daemon.folder("inbox/identity/good.png"))
        try Data("not a png\n".utf8).write(to: daemon.folder("inbox/identity/bad.png"))
        try daemon.start(wrapper: [strace, "-f", "-o", "/dev/null", "-e", "trace=\(call)", "-e", "inject=\(call):signal=KILL:when=\(nth)"])
        let deadline = Date().addingTimeInterval(30)
        while daemon.process.isRunning && Date() < deadline { usleep(50_000) }
        let killed = !daemon.process.isRunning && daemon.process.terminationReason == .uncaughtSignal && daemon.process.terminationStatus == SIGKILL
        #expect(killed, "the daemon was not killed at \(call) #\(nth)")
        if daemon.process.isRunning { // never reached: stop the traced daemon (strace passes no SIGTERM on)
            let pid = daemon.process.processIdentifier
            let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
            for child in children.split(separator: " ").compactMap({ Int32($0) }) { kill(child, SIGTERM) }
            daemon.process.waitUntilExit()
        }

        try daemon.start()
        let settled = Date().addingTimeInterval(30)
        func busy() -> Bool {
            let jobs = (try? daemon.jobs()) ?? []
            return ((try? daemon.files("inbox/identity")) ?? []) != [] || jobs.count < 2
                || jobs.contains { !["done", "failed"].contains($0["status"] as? String) }
        }
        while busy() && Date() < settled { usleep(100_000) }
        let point = "\(call) #\(nth)"
        #expect(try daemon.files("inbox/identity") == [], "\(point)")
        #expect(try daemon.files("archive/identity") == ["good.png"], "\(point)")
        #expect(try daemon.files("outbox/identity") == ["good.png"], "\(point)")
        #expect(try daemon.files("failed/identity") == ["bad.png", "bad.png.error.txt"], "\(point)")
        let reason = (try? String(contentsOf: daemon.folder("failed/identity/bad.png.error.txt"), encoding: .utf8)) ?? ""
        #expect(reason.contains("bad.png: unsupported format") && reason.split(separator: "\n").count == 1, "\(point): \(reason)")
        let jobs = try daemon.jobs()
        #expect(jobs.count == 2, "\(point): \(jobs)")
        try daemon.expectDatabasePathsAreReal(point)
    }
}
