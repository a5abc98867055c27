// A long render keeps its finished output rows in a work file, so an attempt cut short by a crash
// or a stop is continued by the next one instead of starting over. The file holds the output's
// samples row after row, exactly as the saver receives them; only the tile rows counted by the
// last checkpoint are trusted (the file is fsynced before each count is recorded, so the count
// never runs ahead of the data). A checkpoint falls at most every `interval` seconds and always at
// the end of a strip, so a resumed render cuts the image into the same strips as an uninterrupted
// one and computes bit for bit the same rows.

import Foundation

/// The finished tile rows of a render, in a work file, with checkpoints a later attempt resumes from.
public final class StripJournal: @unchecked Sendable { // used under the renderer's lock
    private let descriptor: Int32
    /// Tile rows an earlier attempt finished: read back, not computed.
    public let resumedFrom: Int
    private let interval: Double
    private let record: (Int) -> Void
    private var recorded: Int
    private var lastCheckpoint = Date()
    /// Set when the work file cannot be written (a full disk): the render goes on, unjournaled.
    public private(set) var failure: String?

    /// A journal in the file open (read and write) at `descriptor`, which the caller closes;
    /// `resumingFrom` tile rows of it are valid. `record` hears each checkpoint's count of tile
    /// rows once they are on disk.
    public init(descriptor: Int32, resumingFrom tileRows: Int, interval: Double = 1, record: @escaping (Int) -> Void) {
        (self.descriptor, resumedFrom, recorded, self.interval, self.record) = (descriptor, tileRows, tileRows, interval, record)
    }

    /// Tile row `row`'s samples, `bytes` of them at `offset`, from the earlier attempt.
    func read(_ bytes: Int, at offset: Int, path: String) throws -> [UInt8] {
        var block = [UInt8](repeating: 0, count: bytes)
        let got = block.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, bytes, off_t(offset)) }
        guard got == bytes else { throw ImageError(path, "the work file of the earlier attempt is short") }
        return block
    }

    func write(_ block: [UInt8], at offset: Int) {
        guard failure == nil else { return }
        let put = block.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, block.count, off_t(offset)) }
        if put != block.count { failure = put < 0 ? String(cString: strerror(errno)) : "short write" }
    }

    /// Called at the end of each strip with the tile rows finished so far; records them when the
    /// interval has passed (or with `now`, at a stop).
    func finished(tileRows: Int, now: Bool = false) {
        guard failure == nil, tileRows > recorded, now || Date().timeIntervalSince(lastCheckpoint) >= interval else { return }
        guard fsync(descriptor) == 0 else {
            failure = String(cString: strerror(errno))
            return
        }
        record(tileRows)
        (recorded, lastCheckpoint) = (tileRows, Date())
    }
}
