// File names as the kernel limits them: at most 255 bytes, so a name made from another (a
// temporary name, name-1.png, name.error.txt) keeps as much of it as fits, cut between characters.

import Foundation

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

    /// A name as the kernel stores it (any bytes but "/" and NUL) as a String that survives the
    /// database and comes back byte for byte: valid UTF-8 as it is, every other byte b as the
    /// private-use scalar U+10FF00 + b (names do not use plane 16's last row).
    public static func decode(_ bytes: [UInt8]) -> String {
        var out = String.UnicodeScalarView(), i = 0
        while i < bytes.count {
            let b = bytes[i]
            let length = b < 0x80 ? 1 : b >> 5 == 0b110 ? 2 : b >> 4 == 0b1110 ? 3 : b >> 3 == 0b11110 ? 4 : 0
            if length > 0, i + length <= bytes.count, let text = String(validating: bytes[i..<(i + length)], as: UTF8.self) {
                out.append(contentsOf: text.unicodeScalars)
                i += length
            } else {
                out.append(Unicode.Scalar(0x10FF00 + UInt32(b))!)
                i += 1
            }
        }
        return String(out)
    }

    /// The bytes `decode` read the name from, NUL-terminated, for system calls.
    public static func encode(_ name: String) -> [CChar] {
        var bytes: [UInt8] = []
        for scalar in name.unicodeScalars {
            if let raw = rawByte(scalar) { bytes.append(raw) } else { bytes += Array(String(scalar).utf8) }
        }
        return bytes.map { CChar(bitPattern: $0) } + [0]
    }

    /// The byte a scalar stands for, when `decode` made it from a byte that was not UTF-8.
    public static func rawByte(_ scalar: Unicode.Scalar) -> UInt8? {
        (0x10FF80...0x10FFFF).contains(scalar.value) ? UInt8(scalar.value - 0x10FF00) : nil
    }

    /// `name` with those bytes written out as \xNN: a valid UTF-8 name for files Tessera makes.
    public static func escapingRawBytes(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars {
            if let raw = rawByte(scalar) { out += "\\x" + String(format: "%02x", raw) } else { out.unicodeScalars.append(scalar) }
        }
        return out
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
