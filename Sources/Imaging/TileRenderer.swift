// Runs a tile transform over a whole image and writes the result, streaming: libvips pulls the
// output top to bottom as its saver needs it, and each request computes the tile rows it is
// missing, one at a time on the tile path and four at a time (one strip of 84 rows) on the region
// path, whose margins cost less the taller the strip. Input rows live in a ring of 128 rows (a
// strip needs at most 16 * 4 + 20 rows plus the mirrored ones it re-reads), the output in blocks
// of one tile row (16 rows) freed as soon as the saver has taken them, so memory follows the
// image's width, never its height (savers that need the whole image, such as WebP, GIF and HEIF,
// hold it themselves).
//
// A journal (StripJournal) keeps the finished rows of a long render in a work file: a later
// attempt reads the rows an earlier one finished from it and computes from the next strip on.
// A band of a huge image (`render(tileRows:)`) only computes its rows into its journal; the
// output is written later from every band's journal, computing nothing.
//
// Alpha is split off before the transform and put back unchanged; fully transparent pixels keep
// their original colour (see AlphaBleed.swift for what the network sees under them).

import CVips
import ConvCore
import Foundation

/// Streams an image through a tile transform into a file, strip by strip, memory following the width.
public final class TileRenderer: @unchecked Sendable {
    public let source: ImageSource
    let transform: any TileTransform
    let grid: TileGrid
    let outputColourBands: Int
    /// Called after each tile row with (tiles done, tiles in all); returning false cancels.
    let progress: @Sendable (Int, Int) -> Bool
    let journal: StripJournal?

    private let lock = NSLock()
    /// Tile rows per strip on the region path.
    private static let stripTileRows = 4
    private static let ringRows = 16 * stripTileRows + 64
    private var ring: [Float]
    private var rowsRead = 0
    private var nextTileRow = 0
    private var blocks: [Int: [UInt8]] = [:]
    private var served: [Int]
    private var outputDepth = 8
    /// Whether the rows above the first one read were walked past (see RowReader's `walk`).
    private var walked = false
    /// The tile rows progress counts: the image's, or a band's.
    private var counted: Range<Int>
    private var failure: (any Error)?

    /// A renderer of `source` through `transform`; `progress` hears (tiles done, tiles in all) and
    /// may cancel; `journal` keeps finished rows for a later attempt and gives back an earlier one's.
    public init(source: ImageSource, transform: any TileTransform, journal: StripJournal? = nil,
                progress: @escaping @Sendable (Int, Int) -> Bool = { _, _ in true }) {
        self.source = source
        self.transform = transform
        self.progress = progress
        self.journal = journal
        grid = TileGrid(width: source.width, height: source.height)
        outputColourBands = transform.outputBands(forColourBands: source.colourBands)
        ring = [Float](repeating: 0, count: Self.ringRows * source.width * source.bands)
        served = [Int](repeating: 0, count: grid.rows)
        counted = 0..<grid.rows
        // Resumed: computing starts at the first strip the earlier attempt did not finish, and
        // reading at the first source row that strip needs (a sequential source decodes the rows
        // before it, but they are not kept).
        start(atTileRow: min(journal?.resumedFrom ?? 0, grid.rows))
    }

    /// Computing starts at `tileRow`, and reading at the first source row it needs.
    private func start(atTileRow tileRow: Int) {
        nextTileRow = tileRow
        rowsRead = max(0, tileRow * TileGrid.outputSize - TileGrid.margin)
    }

    /// Computes the next strip (one tile row on the tile path), ending by tile row `end`, and journals it.
    private func produceNextStrip(before end: Int, _ reader: RowReader) throws {
        let count = source.hasAlpha || !transform.handlesRegions ? 1 : min(Self.stripTileRows, end - nextTileRow)
        try produce(tileRows: nextTileRow..<(nextTileRow + count), reader)
        nextTileRow += count
        journal?.finished(tileRows: nextTileRow)
    }

    var outputBands: Int { outputColourBands + (source.hasAlpha ? 1 : 0) }

    /// Renders into `url` in `options.format` (default: the source's, else PNG) through a hidden
    /// temporary file in the same folder, fsynced and renamed. With `replacing` false an existing
    /// file at `url` is an error and is left alone. `beforePublishing` may refuse the finished
    /// file at the last moment (by throwing): nothing appears at `url` then. Returns the format written.
    @discardableResult
    public func write(to url: URL, options: SaveOptions = SaveOptions(), replacing: Bool = false,
                      beforePublishing: () throws -> Void = {}) throws -> ImageFormat {
        let format = options.format ?? source.format ?? .png
        outputDepth = depth(in: format)
        let temporary = try temporaryFile(for: url, format: format)
        defer { unlink(temporary.path) }

        guard let out = vips_image_new() else { throw ImageError(url.path, Vips.lastError()) }
        defer { tessera_vips_unref(out) }
        // The pipeline link copies the source's header and metadata (EXIF, resolution); the
        // fields are set after it, since this image's bands and format are its own.
        guard tessera_vips_pipeline(out, source.image) == 0 else { throw ImageError(url.path, Vips.lastError()) }
        let colour = outputColourBands == 3
        let interpretation = outputDepth == 16 ? (colour ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_GREY16)
                                               : (colour ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W)
        vips_image_init_fields(out, Int32(source.width), Int32(source.height), Int32(outputBands),
                               outputDepth == 16 ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR, VIPS_CODING_NONE,
                               interpretation, source.resolution.x, source.resolution.y)
        if colour, let profile = Vips.srgbProfile {
            profile.withUnsafeBytes { vips_image_set_blob_copy(out, "icc-profile-data", $0.baseAddress, $0.count) }
        } else {
            vips_image_remove(out, "icc-profile-data")
        }
        let me = Unmanaged.passUnretained(self).toOpaque()
        // No per-thread sequence: libvips may call generate for one output region from
        // different threads (caches between the saver and this image), and a region belongs to
        // the thread that uses it, so each call reads the source through a region of its own.
        let generated = vips_image_generate(out, nil, { region, _, _, b, _ in
            Unmanaged<TileRenderer>.fromOpaque(b!).takeUnretainedValue().generate(region!)
        }, nil, nil, me)
        guard generated == 0 else { throw ImageError(url.path, Vips.lastError()) }

        let saved = withExtendedLifetime(self) { options.write(out, as: format, to: temporary.path) }
        if let failure = lock.withLock({ failure }) { throw failure }
        // Only a write can fail here (a full disk): another thread's message is possible but rare.
        if saved != 0 { throw ImageError(url.path, Vips.lastError()) }
        try beforePublishing()
        try commit(temporary, to: url, replacing: replacing)
        return format
    }

    /// Computes tile rows `rows` (whole strips of the region path, or up to the image's end) into
    /// the journal as an output in `format` would hold them, and writes no image: one band of an
    /// image that several workers share, the output assembled from the bands' journals later.
    /// Rows an earlier attempt kept are not computed again; the journal is on disk when it returns.
    public func render(tileRows rows: Range<Int>, format: ImageFormat) throws {
        guard let journal else { preconditionFailure("a band is rendered into its journal") }
        try lock.withLock {
            outputDepth = depth(in: format)
            counted = rows
            if nextTileRow < rows.lowerBound { start(atTileRow: rows.lowerBound) }
            let reader = RowReader(source)
            do {
                while nextTileRow < rows.upperBound {
                    try produceNextStrip(before: rows.upperBound, reader)
                    blocks = [:] // kept in the journal only
                }
            } catch {
                journal.finished(tileRows: nextTileRow, now: true) // a stop keeps the strips finished so far
                throw error
            }
            journal.finished(tileRows: rows.upperBound, now: true)
            if let failure = journal.failure { throw ImageError(source.url.path, "its band's work file cannot be written: \(failure)") }
        }
    }

    /// The bits per sample of the output in `format`.
    private func depth(in format: ImageFormat) -> Int { source.bitDepth == 16 && format.holdsSixteenBits ? 16 : 8 }

    /// Fills one output region libvips asks for, computing tile rows up to its last row.
    private func generate(_ region: UnsafeMutablePointer<VipsRegion>) -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        let rect = region.pointee.valid
        let (left, top, width, height) = (Int(rect.left), Int(rect.top), Int(rect.width), Int(rect.height))
        // After a failure the saver gets black rows and finishes; `write` then throws the failure
        // and removes the file. Failing the saver instead would make it add its own message to
        // libvips' process-wide error buffer, where another job reading its error could find it.
        func blank() -> Int32 {
            let bytes = width * outputBands * outputDepth / 8
            for y in top..<(top + height) { tessera_region_addr(region, Int32(left), Int32(y))!.update(repeating: 0, count: bytes) }
            return 0
        }
        if failure != nil { return blank() }
        let m = TileGrid.outputSize
        do {
            let reader = nextTileRow <= (top + height - 1) / m ? RowReader(source) : nil
            while nextTileRow <= (top + height - 1) / m { try produceNextStrip(before: grid.rows, reader!) }
            for y in top..<(top + height) {
                let tileRow = y / m
                if blocks[tileRow] == nil, let journal, tileRow < journal.resumedFrom, served[tileRow] == 0 {
                    blocks[tileRow] = try journal.read(tileRow: tileRow, blockBytes(tileRow), rowBytes: rowBytes, path: source.url.path)
                }
                guard let block = blocks[tileRow] else {
                    throw ImageError(source.url.path, "output row \(y) requested after it was released")
                }
                block.withUnsafeBytes { b in
                    let from = b.baseAddress! + (y - tileRow * m) * rowBytes + left * pixelBytes
                    tessera_region_addr(region, Int32(left), Int32(y))!.update(from: from.assumingMemoryBound(to: UInt8.self), count: width * pixelBytes)
                }
                served[tileRow] += width
                if served[tileRow] == min(m, grid.height - tileRow * m) * grid.width { blocks[tileRow] = nil }
            }
            return 0
        } catch {
            failure = error
            journal?.finished(tileRows: nextTileRow, now: true) // a stop keeps the strips finished so far
            return blank()
        }
    }

    private var pixelBytes: Int { outputBands * outputDepth / 8 }
    private var rowBytes: Int { grid.width * pixelBytes }
    /// The bytes of tile row `row`'s output block (the last one may be short).
    private func blockBytes(_ row: Int) -> Int { min(TileGrid.outputSize, grid.height - row * TileGrid.outputSize) * rowBytes }

    /// Reads the rows tile rows `rows` need, runs the transform and stores their finished blocks
    /// (several rows only on the region path).
    private func produce(tileRows rows: Range<Int>, _ reader: RowReader) throws {
        let (w, h, bands) = (grid.width, grid.height, source.bands)
        let needed = grid.sourceRows(ofTileRows: rows).map { mirror($0, h) }
        let last = needed.max()!
        if !walked {
            try reader.walk(to: rowsRead)
            walked = true
        }
        while rowsRead <= last {
            let slot = rowsRead % Self.ringRows
            let n = min(last + 1 - rowsRead, Self.ringRows - slot)
            try ring.withUnsafeMutableBufferPointer {
                try reader.read(rows: rowsRead..<(rowsRead + n), into: $0.baseAddress! + slot * w * bands)
            }
            rowsRead += n
        }
        precondition(needed.min()! >= rowsRead - Self.ringRows, "the input ring lost a row still needed")

        let cores = try source.hasAlpha || !transform.handlesRegions ? [tileCores(needed, tileRow: rows.lowerBound)] : stripCores(needed, tileRows: rows)
        for (row, rowCores) in zip(rows, cores) { try stitch(rowCores, tileRow: row) }
    }

    /// Stitches one tile row's cores into its output block, putting alpha and transparent colour back.
    private func stitch(_ cores: Tensor, tileRow row: Int) throws {
        let (w, h, bands, c) = (grid.width, grid.height, source.bands, source.colourBands)
        let k = outputColourBands, m = TileGrid.outputSize, columns = grid.columns
        guard cores.shape == [columns, m, m, k] else {
            throw ImageError(source.url.path, "the style produced \(cores.shape), expected \([columns, m, m, k])")
        }
        let rows = min(m, h - row * m), outBands = outputBands
        let maximum: Float = outputDepth == 16 ? 65535 : 255
        var values = [Float](repeating: 0, count: rows * w * outBands)
        ring.withUnsafeBufferPointer { ringBuffer in
            cores.scalars.withUnsafeBufferPointer { coreBuffer in
                values.withUnsafeMutableBufferPointer { v in
                    for y in 0..<rows {
                        let sourceRow = ringBuffer.baseAddress! + (row * m + y) % Self.ringRows * w * bands
                        let out = v.baseAddress! + y * w * outBands
                        for j in 0..<columns {
                            let core = coreBuffer.baseAddress! + (j * m + y) * m * k
                            let count = min(m, w - j * m)
                            if outBands == k { // no alpha: the core's row as it is
                                (out + j * m * k).update(from: core, count: count * k)
                                continue
                            }
                            for cx in 0..<count {
                                let x = j * m + cx
                                let original = sourceRow + x * bands, to = out + x * outBands
                                let a = original[c]
                                for ch in 0..<k { to[ch] = a == 0 ? originalColour(original, colourBands: c, band: ch, of: k) : core[cx * k + ch] }
                                to[k] = a
                            }
                        }
                    }
                }
            }
        }
        let block = outputDepth == 16 ? quantise(values, maximum, as: UInt16.self) : quantise(values, maximum, as: UInt8.self)
        journal?.write(block, tileRow: row, rowBytes: rowBytes)
        blocks[row] = block
        guard progress((row + 1 - counted.lowerBound) * columns, counted.count * columns) else { throw ImageError(source.url.path, "canceled") }
    }

    /// The cores of one tile row computed tile by tile: [columns, 16, 16, k]. Under fully
    /// transparent pixels each tile sees colour bled in from its own opaque pixels.
    private func tileCores(_ needed: [Int], tileRow: Int) throws -> Tensor {
        let (w, bands, c) = (grid.width, source.bands, source.colourBands)
        let n = TileGrid.inputSize, columns = grid.columns
        var alpha = [Float](repeating: 0, count: source.hasAlpha ? n * n : 0) // one tile's, reused
        let tiles = Tensor(shape: [columns, n, n, c]) { tp in
            ring.withUnsafeBufferPointer { ringBuffer in
                let rows = { (y: Int) in ringBuffer.baseAddress! + (needed[y] % Self.ringRows) * w * bands }
                for j in 0..<columns {
                    let left = j * TileGrid.outputSize - TileGrid.margin
                    copyMirrored(rowCount: n, rows: rows, firstColumn: left, columns: n, width: w, bands: bands, channels: c, into: tp + j * n * n * c)
                    if source.hasAlpha {
                        copyMirrored(rowCount: n, rows: rows, firstColumn: left, columns: n, width: w, bands: bands, firstChannel: c, channels: 1,
                                     into: &alpha)
                        bleedTransparentColour(tp + j * n * n * c, alpha: alpha, size: n, bands: c)
                    }
                }
            }
        }
        return try transform.apply(tiles, tileRow: tileRow)
    }

    /// The same cores from the region fast path, per tile row: tile rows `rows` as one strip of
    /// 16 * rows.count + 20 rows and 16 * columns + 20 mirrored columns, rearranged into tile order.
    /// Images with alpha take the tile path, whose colour bleeding under transparent pixels is per tile.
    private func stripCores(_ needed: [Int], tileRows rows: Range<Int>) throws -> [Tensor] {
        let tileRows = rows.count
        let (w, bands, c) = (grid.width, source.bands, source.colourBands)
        let columns = grid.columns, m = TileGrid.outputSize, stripWidth = columns * m + 2 * TileGrid.margin
        let strip = Tensor(shape: [1, needed.count, stripWidth, c]) { out in
            ring.withUnsafeBufferPointer { ringBuffer in
                copyMirrored(rowCount: needed.count, rows: { ringBuffer.baseAddress! + (needed[$0] % Self.ringRows) * w * bands },
                             firstColumn: -TileGrid.margin, columns: stripWidth, width: w, bands: bands, channels: c, into: out)
            }
        }
        let side = try transform.applyRegion(strip, firstTileRow: rows.lowerBound)
        let k = side.shape.last ?? 0
        guard side.shape == [1, tileRows * m, columns * m, k] else {
            throw ImageError(source.url.path, "the style produced \(side.shape) for a strip, expected \([1, tileRows * m, columns * m, k])")
        }
        return (0..<tileRows).map { tileOrdered(side, row: $0) }
    }
}

/// The source colour of one pixel expressed in `outputBands` bands (luminance or grey repeated
/// when the style changes the band count).
private func originalColour(_ p: UnsafePointer<Float>, colourBands c: Int, band: Int, of outputBands: Int) -> Float {
    if c == outputBands { return p[band] }
    if c == 1 { return p[0] }
    return ColourConversion.luminance(p[0], p[1], p[2])
}

/// Samples in [0, 1] to native little-endian bytes, rounded and clamped (NaN as 0).
private func quantise<T: FixedWidthInteger & UnsignedInteger>(_ values: [Float], _ maximum: Float, as: T.Type) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: values.count * MemoryLayout<T>.size)
    bytes.withUnsafeMutableBytes { raw in
        let out = raw.bindMemory(to: T.self)
        for (i, v) in values.enumerated() {
            // Through UInt32: converting a Float to a generic integer type takes a slow path.
            out[i] = T(truncatingIfNeeded: UInt32(v > 0 ? min(v, 1) * maximum + 0.5 : 0))
        }
    }
    return bytes
}
