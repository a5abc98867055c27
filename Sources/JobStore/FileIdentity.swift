// Which file a job is about: not only its name but the file itself (device and inode), as it was
// when queued (size and modification time), so a different file put under the same name is
// never processed or moved as if it were the first.

import Foundation

/// A file as the kernel identifies it and as it was when looked at.
public struct FileIdentity: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var mtime: Double

    /// The identity `stat` (or `fstat`, `lstat`) gave.
    public init(_ s: stat) {
        (device, inode, size) = (UInt64(s.st_dev), UInt64(s.st_ino), Int64(s.st_size))
        mtime = Double(s.st_mtim.tv_sec) + Double(s.st_mtim.tv_nsec) / 1e9
    }

    public init(device: UInt64, inode: UInt64, size: Int64, mtime: Double) {
        (self.device, self.inode, self.size, self.mtime) = (device, inode, size, mtime)
    }

    /// Whether `other` is the same file (size and time may have changed).
    public func isSameFile(as other: FileIdentity) -> Bool { device == other.device && inode == other.inode }
}
