// The daemon's own rules, without starting it: which inbox names are ignored, how the systemd
// environment is read, and the watcher's stable-file hand-over (its folder rules: FolderTests).

import Foundation
import Testing
import TestSupport
@testable import Daemon

@Suite struct DaemonTests {
    @Test func temporaryAndSystemNamesAreIgnored() {
        for name in [".hidden.png", "._photo.jpg", "Thumbs.db", "desktop.ini", "@eaDir", "a.jpg.part", "b.PNG.crdownload", "c.tmp", "d.partial"] {
            #expect(InboxWatcher.ignored(name), "\(name)")
        }
        for name in ["photo.jpg", "part.png", "tmp", "a.partial.png"] { #expect(!InboxWatcher.ignored(name), "\(name)") }
    }

    @Test func systemdEnvironmentIsRead() {
        let pid = "\(getpid())"
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": pid]).watchdogInterval == 4)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "4000000"]).watchdogInterval == 4)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "0"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "abc"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: [:]).watchdogInterval == nil)
    }

    /// A file is handed over once it has stopped changing, and only once; ignored names never.
    @Test func watcherHandsOverStableFilesOnce() throws {
        let root = Scratch.folder()
        defer { try? FileManager.default.removeItem(at: root) }
        let watcher = try InboxWatcher(inbox: try Folder(configured: root.path), styles: { ["edges"] }, stable: 0.2)
        FileManager.default.createFile(atPath: root.appendingPathComponent("edges/a.png").path, contents: Data([1, 2, 3]))
        FileManager.default.createFile(atPath: root.appendingPathComponent("edges/b.png.part").path, contents: Data([1]))
        var found: [String] = []
        let deadline = Date().addingTimeInterval(5)
        while found.isEmpty && Date() < deadline {
            found += watcher.poll().map { if case let .file(style, name, identity) = $0 { "\(style)/\(name) \(identity.size)" } else { "\($0)" } }
            usleep(50_000)
        }
        #expect(found == ["edges/a.png 3"])
        usleep(300_000)
        #expect(watcher.poll().isEmpty)
    }
}
