// The folder rules that keep the daemon inside its folders: no symbolic link followed, nothing
// replaced, no name too long, no wait on a FIFO, every name shown on one line.

import Foundation
import Imaging
import JobStore
import Synchronization
import Testing
import TestSupport
@testable import Daemon

@Suite struct FolderTests {
    let root = Scratch.folder()

    func make(_ path: String, _ content: String = "x") {
        let url = root.appendingPathComponent(path)
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: url.path, contents: Data(content.utf8))
    }

    func read(_ path: String) -> String? { try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8) }

    /// Every listing sees every name (the listings share the folder's descriptor and its position).
    @Test func aFolderIsListedWholeEveryTime() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        make("a.png")
        make("b.png")
        let folder = try Folder(configured: root.path)
        #expect(folder.names().sorted() == ["a.png", "b.png"])
        #expect(folder.names().sorted() == ["a.png", "b.png"])
    }

    /// Temporary names say their writer's pid and host (names from before hosts: this host).
    @Test func onlyThisHostsDeadWritersTemporariesAreRemoved() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let host = TemporaryWriter.tag.split(separator: "@")[1]
        let dead = ".a.png.tessera-\(Int32.max)@\(host)-7.png", old = ".b.png.tessera-\(Int32.max)-7.png"
        let elsewhere = ".c.png.tessera-\(Int32.max)@not\(host)-7.png", live = ".d.png.tessera-\(TemporaryWriter.tag)-7.png"
        for name in [dead, old, elsewhere, live, "e.png"] { make(name) }
        let folder = try Folder(configured: root.path)
        let judged = Mutex([String]())
        let removed = folder.removeStaleTemporaries { pid, host in
            judged.withLock { $0.append("\(host):\(pid)") }
            return host == TemporaryWriter.host && TemporaryWriter.isDead(pid: pid)
        }
        #expect(Set(removed) == [dead, old])
        #expect(Set(folder.names()) == [elsewhere, live, "e.png"])
        #expect(judged.withLock { $0 }.contains("not\(host):\(Int32.max)")) // another host's writer is the caller's to judge
    }

    @Test func freeNamesSkipFilesDanglingLinksAndReservations() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = try Folder(configured: root.path)
        #expect(folder.freeName("x.png") == "x.png")
        make("x.png")
        #expect(folder.freeName("x.png") == "x-1.png")
        #expect(symlink("/nonexistent/target", root.appendingPathComponent("x-1.png").path) == 0)
        #expect(folder.freeName("x.png") == "x-2.png")
        #expect(folder.freeName("x.png", taken: ["\(root.path)/x-2.png"]) == "x-3.png")
        make("y.png.error.txt")
        #expect(folder.freeName("y.png", companion: ".error.txt") == "y-1.png")
        #expect(folder.freeName("noext") == "noext")
        let long = String(repeating: "n", count: 251) + ".png"
        make(long)
        let next = folder.freeName(long, companion: ".error.txt")
        #expect(next.hasSuffix(".png") && next != long && (next + ".error.txt").utf8.count == 255)
    }

    @Test func movesReplaceNothing() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let inbox = try Folder(configured: root.appendingPathComponent("in").path)
        let archive = try Folder(configured: root.appendingPathComponent("archive").path)
        make("in/s.png", "first")
        make("archive/s.png", "kept")
        #expect(throws: Folder.MoveError.taken) { try inbox.move("s.png", to: archive, as: "s.png") }
        try inbox.move("s.png", to: archive, as: archive.freeName("s.png"))
        #expect(read("archive/s.png") == "kept" && read("archive/s-1.png") == "first" && read("in/s.png") == nil)
        #expect(throws: Folder.MoveError.gone) { try inbox.move("s.png", to: archive, as: "t.png") }
    }

    @Test func linksAreNeverFollowed() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        make("outside/secret.png", "secret")
        let inbox = try Folder(configured: root.appendingPathComponent("inbox").path)
        #expect(symlink(root.appendingPathComponent("outside").path, root.appendingPathComponent("inbox/linked").path) == 0)
        #expect(throws: DaemonError.self) { try inbox.subfolder("linked", create: false) }
        #expect(throws: DaemonError.self) { try inbox.subfolder("linked") }
        let style = try inbox.subfolder("style")
        #expect(symlink(root.appendingPathComponent("outside/secret.png").path, root.appendingPathComponent("inbox/style/a.png").path) == 0)
        #expect { try style.openRegular("a.png") } throws: { "\($0)".hasSuffix("a.png: a symbolic link; Tessera reads only regular files") }
        // A link planted where an error file goes is replaced itself; its target is untouched.
        #expect(symlink(root.appendingPathComponent("outside/secret.png").path, root.appendingPathComponent("inbox/style/b.png.error.txt").path) == 0)
        try style.writeReplacing("b.png.error.txt", Data("reason\n".utf8))
        #expect(read("outside/secret.png") == "secret" && read("inbox/style/b.png.error.txt") == "reason\n")
    }

    @Test func aFIFOIsRefusedWithoutWaiting() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = try Folder(configured: root.path)
        #expect(mkfifo(root.appendingPathComponent("p.png").path, 0o600) == 0)
        #expect { try folder.openRegular("p.png") } throws: { "\($0)".hasSuffix("p.png: not a regular file (a FIFO)") }
    }

    @Test func namesAreShownOnOneLine() {
        #expect(Shown.name("a\nb\tc.png") == "a\\nb\\tc.png")
        #expect(Shown.name("é.png") == "é.png")
        let raw: [UInt8] = [0x61, 0xff, 0x62, 0xc3, 0xa9, 0xe9]
        #expect(Shown.name(FileName.decode(raw)) == "a\\xffbé\\xe9")
        #expect(FileName.encode(FileName.decode(raw)) == raw.map { CChar(bitPattern: $0) } + [0])
        #expect(FileName.escapingRawBytes(FileName.decode(raw)) == "a\\xffbé\\xe9")
    }
}
