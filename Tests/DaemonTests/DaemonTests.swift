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

    /// Polling (a network file system): one listing is not enough, a file that grew after the first
    /// listing waits for a third, and a file whose mtime is ahead of this host's clock
    /// (a file server's clock) is handed over all the same.
    @Test func pollingHandsOverFilesTwoListingsAgreeOn() throws {
        let root = Scratch.folder()
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("edges"), withIntermediateDirectories: true)
        let growing = root.appendingPathComponent("edges/a.png").path, ahead = root.appendingPathComponent("edges/b.png").path
        FileManager.default.createFile(atPath: growing, contents: Data([1, 2, 3]))
        FileManager.default.createFile(atPath: ahead, contents: Data([4]))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(3600)], ofItemAtPath: ahead)
        let start = Date()
        let watcher = try InboxWatcher(inbox: try Folder(configured: root.path), styles: { ["edges"] }, stable: 0, mode: .poll, pollSeconds: 0.4)
        #expect(watcher.poll().isEmpty) // listed once so far
        func names(until deadline: Date) -> [String] {
            var found: [String] = []
            while Date() < deadline {
                found += watcher.poll().compactMap { if case let .file(_, name, identity) = $0 { "\(name) \(identity.size)" } else { nil } }
                usleep(20_000)
            }
            return found
        }
        #expect(names(until: start.addingTimeInterval(0.3)).isEmpty) // before the next listing
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: growing))
        try handle.seekToEnd(); try handle.write(contentsOf: Data([9])); try handle.close()
        let second = names(until: start.addingTimeInterval(0.6))
        #expect(second == ["b.png 1"])
        // Files still in the inbox are handed over again at later listings (the daemon knows them).
        #expect(Set(names(until: start.addingTimeInterval(1.5))) == ["a.png 4", "b.png 1"])
    }
}
