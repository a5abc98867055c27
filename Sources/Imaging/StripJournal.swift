// A long render keeps its finished output rows in a work file, so an attempt cut short by a crash
// or a stop is continued by the next one instead of starting over. The file holds the output's
// samples row after row, exactly as the saver receives them; only the tile rows counted by the
// last checkpoint are trusted (the file is fsynced before each count is recorded, so the count
// never runs ahead of the data). A checkpoint falls at most every `interval` seconds and always at
// the end of a strip, so a resumed render cuts the image into the same strips as an uninterrupted
// one and computes bit for bit the same rows.
//
// A band of a huge image (rows any worker of a shared queue may take) has a journal of its own,
// whose file begins at the band's first tile row; the output is then assembled from every band's
// file, each row read from the band that holds it.

import Foundation

/// The finished tile rows of a render, in a work file, with checkpoints a later attempt resumes from.
public final class StripJournal: @unchecked Sendable { // used under the renderer's lock
    /// The work files, each from its first tile row on (one, or the bands of an assembly), by first row.
    private let files: [(descriptor: Int32, firstTileRow: Int)]
    /// Tile rows an earlier attempt (or the bands) finished: read back, not computed.
    public let resumedFrom: Int
    private let interval: Double
    private let record: (Int) -> Void
    private var recorded: Int
    private var lastCheckpoint = Date()
    /// Set when the work file cannot be written (a full disk): the render goes on, unjournaled.
    public private(set) var failure: String?

    /// A journal in the file open (read and write) at `descriptor`, which the caller closes, that
    /// holds the output from tile row `firstTileRow` on (a band's; 0 for a whole image); the rows
    /// before `resumingFrom` in it are valid. `record` hears each checkpoint's count of tile rows
    /// (from the image's top) once they are on disk.
    public init(descriptor: Int32, firstTileRow: Int = 0, resumingFrom tileRows: Int, interval: Double = 1, record: @escaping (Int) -> Void) {
        files = [(descriptor, firstTileRow)]
        (resumedFrom, recorded, self.interval, self.record) = (max(tileRows, firstTileRow), max(tileRows, firstTileRow), interval, record)
    }

    /// The finished bands of an image, each file open (for reading) at its `descriptor` and
    /// holding the output from `firstTileRow` to the next band's: every row is read back.
    public init(bands: [(descriptor: Int32, firstTileRow: Int)], tileRows: Int) {
        files = bands.sorted { $0.firstTileRow < $1.firstTileRow }
        (resumedFrom, recorded, interval, record) = (tileRows, tileRows, .infinity, { _ in })
    }

    /// The file holding tile row `row`, and the row's place in it.
    private func place(of row: Int, rowBytes: Int) -> (descriptor: Int32, offset: off_t) {
        let file = files.last { $0.firstTileRow <= row } ?? files[0]
        return (file.descriptor, off_t((row - file.firstTileRow) * TileGrid.outputSize * rowBytes))
    }

    /// Tile row `row`'s samples, `bytes` of them (rows of `rowBytes`), from the earlier attempt.
    func read(tileRow row: Int, _ bytes: Int, rowBytes: Int, path: String) throws -> [UInt8] {
        var block = [UInt8](repeating: 0, count: bytes)
        let (descriptor, offset) = place(of: row, rowBytes: rowBytes)
        let got = block.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, bytes, offset) }
        guard got == bytes else { throw ImageError(path, "the work file of the earlier attempt is short") }
        return block
    }

    func write(_ block: [UInt8], tileRow row: Int, rowBytes: Int) {
        guard failure == nil else { return }
        let (descriptor, offset) = place(of: row, rowBytes: rowBytes)
        let put = block.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, block.count, offset) }
        if put != block.count { failure = put < 0 ? String(cString: strerror(errno)) : "short write" }
    }

    /// Called at the end of each strip with the tile rows finished so far; records them when the
    /// interval has passed (or with `now`, at a stop).
    func finished(tileRows: Int, now: Bool = false) {
        guard failure == nil, tileRows > recorded, now || Date().timeIntervalSince(lastCheckpoint) >= interval else { return }
        guard fsync(files[0].descriptor) == 0 else {
            failure = String(cString: strerror(errno))
            return
        }
        record(tileRows)
        (recorded, lastCheckpoint) = (tileRows, Date())
    }
}
