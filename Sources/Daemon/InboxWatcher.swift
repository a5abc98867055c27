// Finds files in inbox/<style>/ with inotify: a file is a candidate when it was closed after
// writing or moved in (or was there at start, or turns up in a periodic rescan), and it is
// handed over once its size and mtime have not changed for `stable` seconds. Names that are
// temporary or system litter are ignored.

import Foundation
import Glibc

final class InboxWatcher: @unchecked Sendable { // used by the watcher thread only
    let root: String
    let styles: () -> [String]
    let stable: Double
    private let fd: Int32
    private var watches: [Int32: String] = [:] // watch descriptor -> style ("" for the root)
    private var candidates: [String: (style: String, size: Int64, mtime: Double, since: Double)] = [:]

    init(root: String, styles: @escaping () -> [String], stable: Double) throws {
        (self.root, self.styles, self.stable) = (root, styles, stable)
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw DaemonError("inotify: \(String(cString: strerror(errno)))") }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        addWatch(root, style: "")
        rescan()
    }

    deinit { close(fd) }

    static func ignored(_ name: String) -> Bool {
        let lower = name.lowercased()
        return name.hasPrefix(".") || name.hasPrefix("._") || lower == "thumbs.db" || lower == "desktop.ini" || name == "@eaDir"
            || [".part", ".filepart", ".tmp", ".crdownload", ".partial", ".download"].contains { lower.hasSuffix($0) }
    }

    private func addWatch(_ path: String, style: String) {
        let mask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE)
        let wd = inotify_add_watch(fd, path, mask)
        if wd >= 0 { watches[wd] = style }
    }

    /// Watches every style folder (creating those of known styles) and makes every file present a candidate.
    func rescan() {
        let fm = FileManager.default
        for style in styles() { try? fm.createDirectory(atPath: "\(root)/\(style)", withIntermediateDirectories: true) }
        let watched = Set(watches.values)
        for style in ((try? fm.contentsOfDirectory(atPath: root)) ?? []) where !Self.ignored(style) {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: "\(root)/\(style)", isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            if !watched.contains(style) { addWatch("\(root)/\(style)", style: style) }
            rescanStyle(style)
        }
    }

    private func consider(style: String, name: String) {
        guard !Self.ignored(name) else { return }
        let path = "\(root)/\(style)/\(name)"
        var s = stat()
        guard stat(path, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG else { return }
        let mtime = Double(s.st_mtim.tv_sec) + Double(s.st_mtim.tv_nsec) / 1e9
        if let c = candidates[path], c.size == Int64(s.st_size), c.mtime == mtime { return }
        candidates[path] = (style, Int64(s.st_size), mtime, Date().timeIntervalSince1970)
    }

    /// Reads pending events, then returns the candidates that have been stable long enough.
    func poll() -> [(path: String, style: String, size: Int64, mtime: Double)] {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            var offset = 0
            while offset + 16 <= n {
                // struct inotify_event: wd, mask, cookie, len, then the NUL-padded name.
                let (wd, mask, length) = buffer.withUnsafeBytes { b in
                    (b.load(fromByteOffset: offset, as: Int32.self), b.load(fromByteOffset: offset + 4, as: UInt32.self),
                     Int(b.load(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let name = String(decoding: buffer[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 }, as: UTF8.self)
                offset += 16 + length
                guard let style = watches[wd] else { continue }
                if style.isEmpty {
                    if mask & UInt32(IN_ISDIR) != 0, !Self.ignored(name) { addWatch("\(root)/\(name)", style: name); rescanStyle(name) }
                } else {
                    consider(style: style, name: name)
                }
            }
        }
        // Re-check sizes: a file still being written is not stable.
        let now = Date().timeIntervalSince1970
        var ready: [(String, String, Int64, Double)] = []
        for (path, c) in candidates {
            var s = stat()
            guard stat(path, &s) == 0 else { candidates[path] = nil; continue }
            let mtime = Double(s.st_mtim.tv_sec) + Double(s.st_mtim.tv_nsec) / 1e9
            if Int64(s.st_size) != c.size || mtime != c.mtime {
                candidates[path] = (c.style, Int64(s.st_size), mtime, now)
            } else if now - c.since >= stable && now - mtime >= stable {
                ready.append((path, c.style, c.size, c.mtime))
                candidates[path] = nil
            }
        }
        return ready
    }

    private func rescanStyle(_ style: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(style)")) ?? [] { consider(style: style, name: name) }
    }
}
