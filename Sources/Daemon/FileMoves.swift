// Moving files without ever overwriting one: the first free name of name, name-1, name-2, ...

import Foundation

/// Moving and naming files without ever replacing one.
public enum FileMoves {
    /// The first path in `folder` for `name` that does not exist yet and is not in `taken`.
    static func freeName(_ name: String, in folder: String, taken: Set<String> = []) -> String {
        let base = (name as NSString).deletingPathExtension, ext = (name as NSString).pathExtension
        var candidate = "\(folder)/\(name)"
        var n = 0
        while taken.contains(candidate) || FileManager.default.fileExists(atPath: candidate) {
            n += 1
            candidate = "\(folder)/\(base)-\(n)\(ext.isEmpty ? "" : ".\(ext)")"
        }
        return candidate
    }

    /// Moves `path` into `folder` under a free name (link + unlink, so nothing is replaced).
    static func move(_ path: String, into folder: String) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        while true {
            let target = freeName((path as NSString).lastPathComponent, in: folder)
            if link(path, target) == 0 {
                unlink(path)
                return target
            }
            if errno == EEXIST { continue }
            if errno == EXDEV { // another file system: copy, then remove
                try FileManager.default.copyItem(atPath: path, toPath: target)
                try FileManager.default.removeItem(atPath: path)
                return target
            }
            throw DaemonError("cannot move \(path) to \(folder): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the temporary files of writers that died (`.<name>.tessera-<pid>-<n>.<suffix>`,
    /// left by a kill -9 in the middle of a write) from the subfolders of `root`.
    static func removeStaleTemporaries(under root: String) -> [String] {
        var removed: [String] = []
        for folder in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(folder)")) ?? [] where name.hasPrefix(".") {
                guard let marker = name.range(of: ".tessera-"),
                      let pid = Int32(name[marker.upperBound...].prefix { $0.isNumber }),
                      kill(pid, 0) != 0 && errno == ESRCH else { continue }
                if unlink("\(root)/\(folder)/\(name)") == 0 { removed.append("\(folder)/\(name)") }
            }
        }
        return removed
    }
}

/// A failure of the daemon's own work on files (moves, the inotify watch), with the reason.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
