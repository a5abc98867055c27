// Finds files in inbox/<style>/ with inotify: a file is a candidate when it was closed after
// writing or moved in (or was there at start, or turns up in a periodic rescan), and it is
// handed over once its size and mtime have not changed for `stable` seconds. Names that are
// temporary or system litter are ignored. Everything is looked at through folder descriptors
// without following links: a style folder that is a symbolic link is not used (said once), and
// an entry that is not a regular file (a link, a FIFO, a socket) is handed over at once as
// refused, so the daemon can fail it with the reason instead of reading through it. Nothing is
// passed over in silence: subfolders and files directly in the inbox are said once each. Names
// may be any bytes (see FileName.decode).
//
// With `watch: poll` (a network file system: inotify sees only this host's own writes) there is
// no inotify at all: every style folder is listed each `pollSeconds`, and a file is handed over
// once it has kept its size and mtime across two listings at least `stable` seconds apart. Its
// mtime is not compared with this host's clock, which may differ from the file server's.

import Foundation
import Glibc
import Imaging
import JobStore
import Settings

final class InboxWatcher: @unchecked Sendable { // used by the watcher thread only
    /// What the watcher hands over.
    enum Found: Equatable {
        /// A regular file that has stopped changing.
        case file(style: String, name: String, identity: FileIdentity)
        /// Something that is not a regular file, with the reason it is not read.
        case refused(style: String, name: String, identity: FileIdentity, reason: String)
    }

    let inbox: Folder
    let styles: () -> [String]
    let stable: Double
    let pollSeconds: Double
    private var lastListing = Date.distantPast
    /// Hears each problem once (a style folder that is a link, a subfolder, a file directly in the inbox).
    let warn: (String) -> Void
    /// The inotify descriptor; nil when the inbox is polled (`watch: poll`).
    private let inotify: Int32?
    private var watched: [String: (folder: Folder, watch: Int32)] = [:]
    private var root: Int32 = -1
    private var candidates: [String: (style: String, name: String, identity: FileIdentity, since: Double)] = [:]
    private var warned: Set<String> = []

    init(inbox: Folder, styles: @escaping () -> [String], stable: Double, mode: WatchMode = .inotify, pollSeconds: Double = 2,
         warn: @escaping (String) -> Void = { _ in }) throws {
        (self.inbox, self.styles, self.stable, self.pollSeconds, self.warn) = (inbox, styles, stable, pollSeconds, warn)
        switch mode {
        case .inotify:
            let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            guard fd >= 0 else { throw DaemonError("inotify: \(String(cString: strerror(errno)))") }
            inotify = fd
            root = addWatch(inbox)
        case .poll:
            inotify = nil
        }
        rescan()
    }

    deinit { if let inotify { close(inotify) } }

    static func ignored(_ name: String) -> Bool {
        let lower = name.lowercased()
        return name.hasPrefix(".") || name.hasPrefix("._") || lower == "thumbs.db" || lower == "desktop.ini" || name == "@eaDir"
            || [".part", ".filepart", ".tmp", ".crdownload", ".partial", ".download"].contains { lower.hasSuffix($0) }
    }

    /// Watches the folder itself (through its descriptor: the name may have been replaced since).
    private func addWatch(_ folder: Folder) -> Int32 {
        guard let inotify else { return -1 }
        let mask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE) | UInt32(IN_ONLYDIR)
        return inotify_add_watch(inotify, "/proc/self/fd/\(folder.descriptor)", mask)
    }

    private func warnOnce(_ key: String, _ message: String) {
        if warned.insert(key).inserted { warn(message) }
    }

    /// Watches every style folder (creating those of known styles) and makes every file present a candidate.
    func rescan() {
        lastListing = Date()
        for style in styles() where inbox.entry(style) == nil { _ = try? inbox.subfolder(style) }
        for name in inbox.names() where !Self.ignored(name) { look(atTopLevel: name) }
    }

    private func look(atTopLevel name: String) {
        guard let s = inbox.entry(name) else { return }
        guard (s.st_mode & S_IFMT) == S_IFDIR else {
            let reason = (s.st_mode & S_IFMT) == S_IFLNK ? "a symbolic link, not a folder: not used (style folders must be real folders)"
                : "files directly in the inbox are not read; put them in a style's folder, inbox/<style>/"
            warnOnce("/" + name, "\(inbox.shown(name)): \(reason)")
            return
        }
        if let current = watched[name] {
            var f = stat()
            if fstat(current.folder.descriptor, &f) == 0, FileIdentity(f).isSameFile(as: FileIdentity(s)) { return rescanStyle(name) }
            if let inotify { inotify_rm_watch(inotify, current.watch) }
            watched[name] = nil
        }
        guard let folder = try? inbox.subfolder(name, create: false) else { return }
        watched[name] = (folder, addWatch(folder))
        rescanStyle(name)
    }

    private func consider(style: String, name: String) {
        guard !Self.ignored(name), let folder = watched[style]?.folder, let s = folder.entry(name) else { return }
        let identity = FileIdentity(s)
        let key = "\(style)/\(name)"
        switch s.st_mode & S_IFMT {
        case S_IFREG:
            if let c = candidates[key], c.identity == identity { return }
            candidates[key] = (style, name, identity, Date().timeIntervalSince1970)
        case S_IFDIR:
            warnOnce(key, "\(folder.shown(name)): subfolders of a style folder are not read")
        default:
            candidates[key] = (style, name, identity, -1) // refused at the next poll, whatever its age
        }
    }

    /// Reads pending events (or, polling, lists the folders when it is time), then returns what
    /// is ready: regular files stable long enough, and entries that are not regular files.
    func poll() -> [Found] {
        if let inotify { readEvents(inotify) } else if Date().timeIntervalSince(lastListing) >= pollSeconds { rescan() }
        // Re-check sizes: a file still being written is not stable.
        let now = Date().timeIntervalSince1970
        var ready: [Found] = []
        for (key, c) in candidates {
            guard let s = watched[c.style]?.folder.entry(c.name) else { candidates[key] = nil; continue }
            let identity = FileIdentity(s)
            if (s.st_mode & S_IFMT) != S_IFREG {
                ready.append(.refused(style: c.style, name: c.name, identity: identity, reason: "not a regular file (\(fileKind(s.st_mode)))"))
                candidates[key] = nil
            } else if identity != c.identity || c.since < 0 {
                candidates[key] = (c.style, c.name, identity, now)
            } else if inotify != nil ? now - c.since >= stable && now - identity.mtime >= stable
                        : now - c.since >= max(stable, pollSeconds) && lastListing.timeIntervalSince1970 > c.since {
                ready.append(.file(style: c.style, name: c.name, identity: identity))
                candidates[key] = nil
            }
        }
        return ready
    }

    /// Makes candidates of the files the pending inotify events name.
    private func readEvents(_ inotify: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            var offset = 0
            while offset + 16 <= n {
                // struct inotify_event: wd, mask, cookie, len, then the NUL-padded name.
                let (wd, length) = buffer.withUnsafeBytes { b in
                    (b.load(fromByteOffset: offset, as: Int32.self),
                     Int(b.load(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let bytes = Array(buffer[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 })
                offset += 16 + length
                let style = wd == root ? nil : watched.first { $0.value.watch == wd }?.key
                guard wd == root || style != nil else { continue }
                let name = FileName.decode(bytes)
                if let style { consider(style: style, name: name) } else if !Self.ignored(name) { look(atTopLevel: name) }
            }
        }
    }

    private func rescanStyle(_ style: String) {
        guard let folder = watched[style]?.folder else { return }
        for name in folder.names() { consider(style: style, name: name) }
    }
}
