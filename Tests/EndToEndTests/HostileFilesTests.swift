// The daemon against a hostile user (issue 17): symbolic links that lead out of its folders, a
// file renamed over one being processed, a FIFO, 70 truncated files at once, formats it does not
// list, the longest names and names with a newline. Each case is a defect the daemon had.

import ConvCore
import Foundation
import Imaging
import JobStore
import Testing

@Suite(.serialized, .tags(.slow)) struct HostileFilesTests {
    typealias Running = DaemonCommandTests.Running

    static func bytes(_ url: URL) -> Data? { try? Data(contentsOf: url) }

    /// No link is followed: a style folder that is a link, a link in an inbox, a link planted where
    /// an error file goes, a dangling link in the outbox; a FIFO and an SVG named .png are failed
    /// with their reasons, and a good file after them is done.
    @Test func linksFIFOsAndUnlistedFormatsNeverLeadOutside() throws {
        let daemon = try Running()
        defer { daemon.stop() }
        let outside = daemon.root.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try ImageFile.save(DaemonCommandTests.image(1), bitDepth: 8, to: outside.appendingPathComponent("photo.png"))
        try Data("a letter\n".utf8).write(to: outside.appendingPathComponent("letter.txt"))
        let before = try FileManager.default.contentsOfDirectory(atPath: outside.path).sorted()
        let photo = Self.bytes(outside.appendingPathComponent("photo.png"))

        // A style folder that is a link to the outside folder, and the tint folder replaced by one.
        #expect(symlink(outside.path, daemon.folder("inbox/identity-link").path) == 0)
        try FileManager.default.removeItem(at: daemon.folder("inbox/tint"))
        #expect(symlink(outside.path, daemon.folder("inbox/tint").path) == 0)
        // A link to an outside image, dropped into a real style folder.
        #expect(symlink(outside.appendingPathComponent("photo.png").path, daemon.folder("inbox/identity/linked.png").path) == 0)
        // A link planted where the error file of bad.png would go.
        try FileManager.default.createDirectory(at: daemon.folder("failed/identity"), withIntermediateDirectories: true)
        #expect(symlink(outside.appendingPathComponent("letter.txt").path, daemon.folder("failed/identity/bad.png.error.txt").path) == 0)
        // A dangling link where the output of d.png would go.
        try FileManager.default.createDirectory(at: daemon.folder("outbox/identity"), withIntermediateDirectories: true)
        #expect(symlink("/nonexistent/d.png", daemon.folder("outbox/identity/d.png").path) == 0)
        // A FIFO moved in (opening it for reading would wait for a writer forever).
        #expect(mkfifo(outside.appendingPathComponent("f.png").path, 0o600) == 0)
        #expect(rename(outside.appendingPathComponent("f.png").path, daemon.folder("inbox/identity/f.png").path) == 0)
        try Data("not a png\n".utf8).write(to: daemon.folder("inbox/identity/bad.png"))
        let svg = #"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40" fill="red"/></svg>"#
        try Data(svg.utf8).write(to: daemon.folder("inbox/identity/drawing.png"))
        try ImageFile.save(DaemonCommandTests.image(2), bitDepth: 8, to: daemon.folder("inbox/identity/d.png"))

        let jobs = try daemon.waitForJobs(5, timeout: 60)
        usleep(1_500_000) // a rescan or two, in case anything would still read the linked folders
        let byName = Dictionary(jobs.map { ($0["name"] as! String, $0) }) { a, _ in a }
        func status(_ name: String) -> String { "\(byName[name]?["status"] ?? "none") \(byName[name]?["error"] ?? "")" }
        #expect(status("d.png") == "done ", "\(jobs)")
        #expect(try daemon.files("outbox/identity") == ["d-1.png", "d.png"])
        #expect(status("linked.png").hasSuffix("linked.png: not a regular file (a symbolic link)"), "\(status("linked.png"))")
        #expect(status("f.png").hasSuffix("f.png: not a regular file (a FIFO)"), "\(status("f.png"))")
        #expect(status("drawing.png").hasSuffix("drawing.png: unsupported format (Tessera reads JPEG, PNG, TIFF, WebP, GIF, HEIF and AVIF)"))
        #expect(status("bad.png").hasPrefix("failed"))
        #expect(jobs.count == 5, "\(jobs)")
        // The link and the FIFO themselves moved to failed/ beside their reasons; the planted link kept its target.
        #expect(try daemon.files("failed/identity") == ["bad-1.png", "bad-1.png.error.txt", "bad.png.error.txt", "drawing.png", "drawing.png.error.txt",
                                                        "f.png", "f.png.error.txt", "linked.png", "linked.png.error.txt"])
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: daemon.folder("failed/identity/linked.png").path)) != nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).sorted() == before)
        #expect(Self.bytes(outside.appendingPathComponent("photo.png")) == photo)
        #expect(String(decoding: Self.bytes(outside.appendingPathComponent("letter.txt")) ?? Data(), as: UTF8.self) == "a letter\n")
        #expect(!FileManager.default.fileExists(atPath: daemon.folder("archive/identity-link").path))
        #expect(!FileManager.default.fileExists(atPath: daemon.folder("failed/tint").path))
        let log = (try? String(contentsOf: daemon.root.appendingPathComponent("daemon.log"), encoding: .utf8)) ?? ""
        #expect(log.contains("inbox/identity-link: a symbolic link, not a folder: not used"))
        let report = try JSONSerialization.jsonObject(with: Data(try daemon.cli(["status", "--json"]).stdout.utf8)) as? [String: Any]
        #expect(report?["daemon_alive"] as? Bool == true)
    }

    /// A file renamed over one being processed is a job of its own: the first job's output is the
    /// first file's, the second file is archived by its own job, nothing is lost or moved twice.
    @Test func aFileRenamedOverARunningOneGetsItsOwnJob() throws {
        let daemon = try Running(settings: ["workers": "1"]) // the second file's job waits for the first's end
        defer { daemon.stop() }
        let (a, b) = (daemon.root.appendingPathComponent("a.png"), daemon.root.appendingPathComponent("b.png"))
        try ImageFile.save(DaemonCommandTests.image(3, width: 3000, height: 2400), bitDepth: 8, to: a)
        try ImageFile.save(DaemonCommandTests.image(4, width: 64, height: 48), bitDepth: 8, to: b)
        let bBytes = Self.bytes(b)
        try FileManager.default.copyItem(at: a, to: daemon.folder("inbox/identity/s.png"))
        let deadline = Date().addingTimeInterval(30)
        while try daemon.jobs().first?["status"] as? String != "running" && Date() < deadline { usleep(20_000) }
        #expect(rename(b.path, daemon.folder("inbox/identity/s.png").path) == 0)
        let jobs = try daemon.waitForJobs(2, timeout: 60)
        #expect(jobs.count == 2 && jobs.allSatisfy { $0["status"] as? String == "done" }, "\(jobs)")
        let sizes = try daemon.files("outbox/identity").map { try ImageSource(url: daemon.folder("outbox/identity/\($0)")).width }
        #expect(sizes.sorted() == [64, 3000], "\(sizes)")
        #expect(try daemon.files("archive/identity") == ["s.png"])
        #expect(Self.bytes(daemon.folder("archive/identity/s.png")) == bBytes)
        #expect(try daemon.files("inbox/identity").isEmpty)
    }

    /// An outbox on a full file system (a 512 KiB tmpfs): the job says "no space left on device"
    /// with the folder, leaves no temporary, waits, and completes once there is room.
    @Test func aFullOutboxSaysSoAndCompletesWhenThereIsRoom() throws {
        let daemon = try Running(settings: ["attempts": "8"], start: false)
        defer { daemon.stop() }
        let outbox = daemon.folder("outbox")
        try FileManager.default.createDirectory(at: outbox, withIntermediateDirectories: true)
        guard daemon.mount(outbox, "size=512k") else {
            Issue.record("cannot mount a tmpfs here (the test needs root)")
            return
        }
        defer { daemon.unmount(outbox) }
        try daemon.start()
        var g = SystemRandomNumberGenerator()
        let noise = Tensor(shape: [1, 600, 600, 3], scalars: (0..<(600 * 600 * 3)).map { _ in Float(UInt8.random(in: 0...255, using: &g)) / 255 })
        try ImageFile.save(noise, bitDepth: 8, to: daemon.root.appendingPathComponent("big.png")) // about 1 MB
        #expect(rename(daemon.root.appendingPathComponent("big.png").path, daemon.folder("inbox/identity/big.png").path) == 0)
        let store = try daemon.store()
        var deadline = Date().addingTimeInterval(30)
        var said = ""
        while said.isEmpty && Date() < deadline {
            said = try store.jobs(limit: 10).first.flatMap { try store.job($0.id)?.1.last { $0.kind == "retry" }?.message } ?? ""
            usleep(100_000)
        }
        #expect(said.hasSuffix("no space left on device (\(daemon.folder("outbox/identity").path))"), "\(said)")
        #expect(try daemon.files("outbox/identity") == [], "a temporary was left")
        #expect(daemon.mount(outbox, "remount,size=16m"))
        deadline = Date().addingTimeInterval(60)
        while try store.jobs(limit: 10).first?.status != .done && Date() < deadline { usleep(200_000) }
        #expect(try store.jobs(limit: 10).first?.status == .done)
        #expect(try daemon.files("outbox/identity") == ["big.png"] && daemon.files("archive/identity") == ["big.png"])
    }

    /// Run as an unprivileged user (nobody), the daemon fails a file it may not read with
    /// "permission denied", moves it to failed/ and does the next one.
    @Test func anUnreadableFileFailsWithPermissionDenied() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            Issue.record("needs root and setpriv (util-linux) to run the daemon as another user")
            return
        }
        let daemon = try Running(start: false)
        defer { daemon.stop() }
        try FileManager.default.createDirectory(at: daemon.folder("inbox/identity"), withIntermediateDirectories: true)
        try ImageFile.save(DaemonCommandTests.image(9), bitDepth: 8, to: daemon.folder("inbox/identity/good.png"))
        let chown = Process()
        chown.executableURL = URL(fileURLWithPath: "/bin/chown")
        chown.arguments = ["-R", "nobody:nogroup", daemon.root.path]
        try chown.run()
        chown.waitUntilExit()
        try ImageFile.save(DaemonCommandTests.image(10), bitDepth: 8, to: daemon.folder("inbox/identity/secret.png")) // root's
        #expect(chmod(daemon.folder("inbox/identity/secret.png").path, 0o600) == 0)
        try daemon.start(wrapper: ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        let jobs = try daemon.waitForJobs(2, timeout: 30)
        let log = (try? String(contentsOf: daemon.root.appendingPathComponent("daemon.log"), encoding: .utf8)) ?? ""
        let byName = Dictionary(jobs.map { ($0["name"] as! String, $0) }) { a, _ in a }
        #expect(byName["good.png"]?["status"] as? String == "done", "\(jobs) \(log.suffix(1500))")
        #expect((byName["secret.png"]?["error"] as? String ?? "").hasSuffix("secret.png: permission denied"), "\(jobs)")
        #expect(try daemon.files("failed/identity") == ["secret.png", "secret.png.error.txt"])
    }

    /// A name that is not UTF-8 (Latin-1 "café.png") is processed like any other: the output gets
    /// the name with the byte written out (caf\xe9.png), the source is archived under its own bytes.
    @Test func aNameThatIsNotUTF8IsProcessed() throws {
        let daemon = try Running()
        defer { daemon.stop() }
        let staged = daemon.root.appendingPathComponent("staged.png")
        try ImageFile.save(DaemonCommandTests.image(12), bitDepth: 8, to: staged)
        let raw: [UInt8] = Array("caf".utf8) + [0xe9] + Array(".png".utf8)
        func path(_ folder: String) -> [CChar] { Array(daemon.folder(folder).path.utf8CString.dropLast()) + [47] + raw.map { CChar(bitPattern: $0) } + [0] }
        #expect(rename(staged.path, path("inbox/identity")) == 0)
        let jobs = try daemon.waitForJobs(1, timeout: 30)
        #expect(jobs.first?["status"] as? String == "done", "\(jobs)")
        #expect(access(path("archive/identity"), F_OK) == 0, "the source is not archived under its own name")
        #expect(try daemon.files("outbox/identity") == ["caf\\xe9.png"])
        let table = try daemon.cli(["jobs"]).stdout
        #expect(table.contains("caf\\xe9.png"), "\(table)")
    }

    /// 70 truncated files at once: every error file names its own file; a 255-byte name and a
    /// name with a newline are processed, the newline shown escaped on one line.
    @Test func concurrentFailuresAndHardNames() throws {
        let daemon = try Running(settings: ["workers": "4"])
        defer { daemon.stop() }
        let staging = daemon.root.appendingPathComponent("staging")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        for n in 0..<70 {
            let suffix = ["jpg", "png", "tif"][n % 3]
            let url = staging.appendingPathComponent(String(format: "ct%02d-\(suffix).\(suffix)", n))
            try ImageFile.save(DaemonCommandTests.image(UInt64(n), width: 120 + n, height: 90), bitDepth: 8, to: url)
            let data = try Data(contentsOf: url)
            try data.prefix(data.count * (30 + n % 40) / 100).write(to: url)
        }
        let long = String(repeating: "ü", count: 125) + "x.png" // 255 bytes
        try ImageFile.save(DaemonCommandTests.image(80), bitDepth: 8, to: staging.appendingPathComponent(long))
        try Data("broken\n".utf8).write(to: staging.appendingPathComponent("two\nlines.png"))
        for name in try FileManager.default.contentsOfDirectory(atPath: staging.path) {
            #expect(rename(staging.appendingPathComponent(name).path, daemon.folder("inbox/identity/\(name)").path) == 0)
        }
        let jobs = try daemon.waitForJobs(72, timeout: 120)
        #expect(jobs.filter { $0["status"] as? String == "failed" }.count == 71, "\(jobs.filter { $0["status"] as? String != "failed" })")
        for n in 0..<70 {
            let suffix = ["jpg", "png", "tif"][n % 3]
            let name = String(format: "ct%02d-\(suffix).\(suffix)", n)
            let reason = String(decoding: Self.bytes(daemon.folder("failed/identity/\(name).error.txt")) ?? Data(), as: UTF8.self)
            let named = reason.matches(of: /ct[0-9][0-9]-[a-z]+\.[a-z]+/).map { String($0.output) }
            #expect(named == [name] && reason.split(separator: "\n").count == 1, "\(name): \(reason)")
        }
        #expect(try daemon.files("archive/identity") == [long])
        #expect(try daemon.files("outbox/identity") == [long])
        let reason = String(decoding: Self.bytes(daemon.folder("failed/identity/two\nlines.png.error.txt")) ?? Data(), as: UTF8.self)
        #expect(reason.contains("two\\nlines.png: ") && reason.split(separator: "\n").count == 1, "\(reason)")
        let table = try daemon.cli(["jobs", "--limit", "1000"]).stdout
        #expect(table.contains("two\\nlines.png") && table.split(separator: "\n").count == 73, "\(table.suffix(300))")
    }
}
