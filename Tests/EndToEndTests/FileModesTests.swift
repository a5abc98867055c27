// What the daemon creates is private whatever umask it inherited: the database files 0600, its
// folders and files by the `umask` setting (default 0027: folders 0750, outputs and error files
// 0640). Sources keep their own modes.

import Foundation
import Imaging
import Testing

@Suite(.serialized, .tags(.slow)) struct FileModesTests {
    typealias Running = DaemonCommandTests.Running

    static func mode(_ url: URL) -> Int? {
        var s = stat()
        return lstat(url.path, &s) == 0 ? Int(s.st_mode & 0o7777) : nil
    }

    @Test(arguments: ["000", "022"]) func modesFollowTheSettingNotTheInheritedUmask(_ inherited: String) throws {
        let daemon = try Running(start: false)
        defer { daemon.stop() }
        try daemon.start(wrapper: ["/bin/sh", "-c", "umask \(inherited); exec \"$0\" \"$@\""])
        try ImageFile.save(DaemonCommandTests.image(6), bitDepth: 8, to: daemon.folder("inbox/identity/good.png"))
        try Data("not a png\n".utf8).write(to: daemon.folder("inbox/identity/bad.png"))
        _ = try daemon.waitForJobs(2, timeout: 30)
        for file in ["tessera.sqlite", "tessera.sqlite-wal", "tessera.sqlite-shm"] {
            #expect(Self.mode(daemon.folder(file)) == 0o600, "\(file) under umask \(inherited)")
        }
        for folder in ["inbox", "outbox", "archive", "failed", "inbox/identity", "outbox/identity", "archive/identity", "failed/identity"] {
            #expect(Self.mode(daemon.folder(folder)) == 0o750, "\(folder) under umask \(inherited)")
        }
        #expect(Self.mode(daemon.folder("outbox/identity/good.png")) == 0o640, "output under umask \(inherited)")
        #expect(Self.mode(daemon.folder("failed/identity/bad.png.error.txt")) == 0o640, "error file under umask \(inherited)")
    }

    /// The database file the CLI creates is private too.
    @Test func submitCreatesAPrivateDatabase() throws {
        let daemon = try Running(start: false)
        defer { daemon.stop() }
        let photo = daemon.root.appendingPathComponent("p.png")
        try ImageFile.save(DaemonCommandTests.image(7), bitDepth: 8, to: photo)
        let run = try daemon.cli(["submit", photo.path, "--style", "identity"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(Self.mode(daemon.folder("tessera.sqlite")) == 0o600)
    }

    @Test func refusesToRunAsRootWithoutTheFlag() throws {
        guard getuid() == 0 else { return } // only root can be refused
        let run = try tessera(["daemon"], environment: ["TESSERA_ROOT": FileManager.default.temporaryDirectory.appendingPathComponent("tessera-root-\(UUID().uuidString)").path])
        #expect(run.status != 0 && run.stderr.contains("refusing to run as root"), "\(run.stderr)")
    }
}
