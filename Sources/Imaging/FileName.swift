// File names as the kernel limits them: at most 255 bytes, so a name made from another (a
// temporary name, name-1.png, name.error.txt) keeps as much of it as fits, cut between characters.

import Glibc

/// Names that fit the file system's limit.
public enum FileName {
    /// NAME_MAX on Linux file systems.
    public static let maxBytes = 255

    /// `name` cut to at most `bytes` UTF-8 bytes, between characters.
    public static func prefix(_ name: String, bytes: Int) -> String {
        guard name.utf8.count > bytes else { return name }
        var kept = String.UnicodeScalarView(), used = 0
        for scalar in name.unicodeScalars {
            let size = String(scalar).utf8.count
            guard used + size <= bytes else { break }
            kept.append(scalar)
            used += size
        }
        return String(kept)
    }

    /// `base` + `tail`, the base cut so the whole fits in `maxBytes`.
    public static func fitting(_ base: String, _ tail: String) -> String {
        prefix(base, bytes: maxBytes - tail.utf8.count) + tail
    }
}

/// What kind of file a mode says, for "not a regular file" errors.
public func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFDIR: "a folder"
    case S_IFIFO: "a FIFO"
    case S_IFSOCK: "a socket"
    case S_IFCHR, S_IFBLK: "a device"
    case S_IFLNK: "a symbolic link"
    default: "not a plain file"
    }
}
