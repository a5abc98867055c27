// A folder the daemon works in, held open by descriptor: every name is looked up in it with
// *at() calls and O_NOFOLLOW, so a symbolic link planted anywhere under the configured folders
// (a style folder, a file in the inbox, an error file's name) is never followed, and renaming a
// folder away while the daemon works in it cannot make it read or write elsewhere. Names are
// moved with renameat2(RENAME_NOREPLACE) and created with O_EXCL: nothing is ever replaced, and a
// name taken by anything (a dangling link too) moves on to the next free one.

import CLinux
import Foundation
import Imaging
import JobStore

/// A folder held open by descriptor, in which names are never followed as symbolic links.
final class Folder: @unchecked Sendable { // the descriptor is only read after init
    /// The folder's path, for messages and the database.
    let path: String
    let descriptor: Int32

    private init(path: String, descriptor: Int32) { (self.path, self.descriptor) = (path, descriptor) }

    deinit { close(descriptor) }

    /// A configured folder (its own path may pass through links: an administrator chose it),
    /// created if missing.
    convenience init(configured path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw DaemonError("\(Shown.name(path)): \(String(cString: strerror(errno)))") }
        self.init(path: path, descriptor: fd)
    }

    /// The subfolder `name`, created if missing (with `create`); a symbolic link or anything
    /// else that is not a real folder there is refused with the reason.
    func subfolder(_ name: String, create: Bool = true) throws -> Folder {
        if create && mkdirat(descriptor, c(name), 0o777) != 0 && errno != EEXIST {
            throw DaemonError("\(shown(name)): cannot create: \(String(cString: strerror(errno)))")
        }
        let fd = openat(descriptor, c(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errno == ELOOP || errno == ENOTDIR
                ? "is \(entry(name).map { fileKind($0.st_mode) } ?? "not a folder"), not a folder: not used"
                : String(cString: strerror(errno))
            throw DaemonError("\(shown(name)): \(reason)")
        }
        return Folder(path: "\(path)/\(name)", descriptor: fd)
    }

    /// What is at `name` (a link itself, not what it points to); nil if nothing.
    func entry(_ name: String) -> stat? {
        var s = stat()
        return fstatat(descriptor, c(name), &s, AT_SYMLINK_NOFOLLOW) == 0 ? s : nil
    }

    /// Opens the regular file `name` for reading: no link followed, no wait on a FIFO. The
    /// caller closes the descriptor.
    func openRegular(_ name: String) throws -> (descriptor: Int32, identity: FileIdentity) {
        let fd = openat(descriptor, c(name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errno == ELOOP ? "a symbolic link; Tessera reads only regular files"
                : errno == ENOENT ? "no such file" : errno == EACCES ? "permission denied" : String(cString: strerror(errno))
            throw ImageError("\(path)/\(name)", reason)
        }
        var s = stat()
        guard fstat(fd, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ImageError("\(path)/\(name)", "not a regular file (\(fileKind(s.st_mode)))")
        }
        return (fd, FileIdentity(s))
    }

    /// The names in this folder, as the kernel lists them (not sorted), without "." and ".."
    /// (names that are not UTF-8 as `FileName.decode` keeps them).
    func names() -> [String] {
        let fd = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard fd >= 0, let directory = fdopendir(fd) else { if fd >= 0 { close(fd) }; return [] }
        defer { closedir(directory) }
        // The duplicate shares the folder's read position: an earlier listing left it at the end.
        rewinddir(directory)
        var names: [String] = []
        while let entry = readdir(directory) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            guard bytes != [46], bytes != [46, 46] else { continue }
            names.append(FileName.decode(bytes))
        }
        return names
    }

    /// Removes the name `name` (a file, not a folder).
    func remove(_ name: String) { unlinkat(descriptor, c(name), 0) }

    /// Opens (creating, mode 0600, unless `creating` is false) the daemon's own work file `name`
    /// for reading and writing; a link there is refused. The caller closes the descriptor.
    func openWorkFile(_ name: String, creating: Bool = true) throws -> Int32 {
        let fd = openat(descriptor, c(name), O_RDWR | (creating ? O_CREAT : 0) | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DaemonError("\(shown(name)): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// The first of `name`, `base-1.ext`, `base-2.ext`, ... with nothing at it (not even a
    /// dangling link), not in `taken` (full paths), and, with a `companion` suffix, nothing at
    /// name + companion either. Names are cut to fit 255 bytes with the companion.
    func freeName(_ name: String, taken: Set<String> = [], companion: String = "") -> String {
        let ext = (name as NSString).pathExtension, base = (name as NSString).deletingPathExtension
        var n = 0
        while true {
            let tail = (n == 0 ? "" : "-\(n)") + (ext.isEmpty ? "" : ".\(ext)")
            let candidate = FileName.fitting(base, tail + companion).dropLast(companion.count)
            let name = String(candidate)
            if !taken.contains("\(path)/\(name)"), entry(name) == nil, companion.isEmpty || entry(name + companion) == nil { return name }
            n += 1
        }
    }

    /// Why a move did not happen.
    enum MoveError: Error, Equatable { case taken, gone, other(String) }

    /// Moves `name` to `target` in `folder` in one step, replacing nothing. Across file systems
    /// (EXDEV) the file is copied to the target (created exclusively), synced, then removed; then
    /// it returns the file that was copied, as it was opened (the target is a new file).
    @discardableResult
    func move(_ name: String, to folder: Folder, as target: String) throws(MoveError) -> stat? {
        if tessera_rename_noreplace(descriptor, c(name), folder.descriptor, c(target)) == 0 {
            folder.sync()
            return nil
        }
        switch errno {
        case EEXIST: throw .taken
        case ENOENT: throw .gone
        case EXDEV: return try copy(name, to: folder, as: target)
        case EINVAL: // a file system without RENAME_NOREPLACE: a hard link refuses to replace too
            guard linkat(descriptor, c(name), folder.descriptor, c(target), 0) == 0 else {
                throw errno == EEXIST ? .taken : errno == ENOENT ? .gone : .other(String(cString: strerror(errno)))
            }
            folder.sync()
            unlinkat(descriptor, c(name), 0)
        default: throw .other(String(cString: strerror(errno)))
        }
        return nil
    }

    private func copy(_ name: String, to folder: Folder, as target: String) throws(MoveError) -> stat {
        let from = openat(descriptor, c(name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard from >= 0 else { throw errno == ENOENT ? .gone : .other(String(cString: strerror(errno))) }
        defer { close(from) }
        var copied = stat()
        fstat(from, &copied)
        let to = openat(folder.descriptor, c(target), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666)
        guard to >= 0 else { throw errno == EEXIST ? .taken : .other(String(cString: strerror(errno))) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var failed: String?
        while failed == nil {
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 || buffer.withUnsafeBytes({ write(to, $0.baseAddress, n) }) != n { failed = String(cString: strerror(errno)) }
        }
        if failed == nil && fsync(to) != 0 { failed = String(cString: strerror(errno)) }
        close(to)
        if let failed {
            unlinkat(folder.descriptor, c(target), 0)
            throw .other(failed)
        }
        folder.sync()
        unlinkat(descriptor, c(name), 0)
        return copied
    }

    /// Writes `data` to `name` whole or not at all: a hidden temporary (created exclusively),
    /// fsynced, renamed over `name`. Replaces whatever is at `name`, a link included (never what
    /// it points to): only for names the daemon reserved.
    func writeReplacing(_ name: String, _ data: Data) throws {
        let temporary = FileName.fitting(".\(name)", ".tessera-\(TemporaryWriter.tag)-\(UInt32.random(in: 0...UInt32.max)).tmp")
        let fd = openat(descriptor, c(temporary), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw DaemonError("\(shown(name)): cannot write: \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == data.count, synced == 0, renameat(descriptor, c(temporary), descriptor, c(name)) == 0 else {
            let reason = String(cString: strerror(errno))
            unlinkat(descriptor, c(temporary), 0)
            throw DaemonError("\(shown(name)): cannot write: \(reason)")
        }
        sync()
    }

    /// Removes the temporary files whose writers died (`.<name>.tessera-<pid>@<host>-<n>.<suffix>`,
    /// left by a kill -9 in the middle of a write), as `isDead` judges the writer; returns their names.
    func removeStaleTemporaries(isDead: (_ pid: Int32, _ host: String) -> Bool) -> [String] {
        names().filter { name in
            guard let writer = TemporaryWriter.writer(of: name), isDead(writer.pid, writer.host) else { return false }
            return unlinkat(descriptor, c(name), 0) == 0
        }
    }

    /// A name as the system calls take it.
    private func c(_ name: String) -> [CChar] { FileName.encode(name) }

    /// Makes the folder's new names survive a crash.
    func sync() { fsync(descriptor) }

    /// A path under this folder as messages show it.
    func shown(_ name: String) -> String { Shown.name("\(path)/\(name)") }
}

/// A failure of the daemon's own work on files (moves, the inotify watch), with the reason.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
