// Writing a file so that it appears whole or not at all: the bytes go to a hidden temporary name
// in the same folder, are fsynced, and the name is put in place by rename (replacing) or link
// (refusing to replace); the folder is fsynced so the new name survives a crash.

import Foundation

/// A hidden name beside `url` to write to before `commit` (the daemon ignores dotfiles), short
/// enough for any name: as much of the final name as fits, then the writer's pid and host and a random tag.
/// A folder that is missing or not writable is said as such, with the output's name (the
/// encoder would name only the temporary, with no reason).
func temporaryFile(for url: URL, format: ImageFormat) throws -> URL {
    let folder = url.deletingLastPathComponent().path
    var isFolder: ObjCBool = false
    let exists = FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder)
    guard exists, isFolder.boolValue else {
        throw ImageError(url.path, exists ? "cannot be written: \(folder) is not a folder" : "cannot be written: the folder \(folder) does not exist")
    }
    guard access(folder, W_OK) == 0 else { throw ImageError(url.path, "cannot be written in \(folder): \(String(cString: strerror(errno)))") }
    let tail = ".tessera-\(TemporaryWriter.tag)-\(UInt32.random(in: 0...UInt32.max)).\(format.suffix)"
    return url.deletingLastPathComponent().appendingPathComponent(FileName.fitting("." + url.lastPathComponent, tail))
}

/// Moves a finished temporary file into place: fsync, then rename (replacing) or link (refusing to
/// replace), then fsync the folder so the new name survives a crash.
func commit(_ temporary: URL, to url: URL, replacing: Bool) throws {
    let fd = open(temporary.path, O_RDONLY)
    guard fd >= 0 else { throw ImageError(url.path, "cannot reopen the temporary file: \(String(cString: strerror(errno)))") }
    let synced = fsync(fd)
    close(fd)
    guard synced == 0 else { throw ImageError(url.path, "fsync failed: \(String(cString: strerror(errno)))") }
    if replacing {
        guard rename(temporary.path, url.path) == 0 else { throw ImageError(url.path, String(cString: strerror(errno))) }
    } else {
        guard link(temporary.path, url.path) == 0 else {
            throw ImageError(url.path, errno == EEXIST ? "already exists; not overwritten" : String(cString: strerror(errno)))
        }
        unlink(temporary.path)
    }
    let directory = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
    if directory >= 0 { fsync(directory); close(directory) }
}
