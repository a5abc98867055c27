// Image in, image out: a style run over every tile of an image, streamed (see Imaging's
// TileRenderer), batches of tiles split across a pool of `threads` threads.

import ConvCore
import Foundation
import Imaging

/// Image in, image out: a style over every tile of an image, streamed, on a pool of threads.
public struct Stylizer: Sendable {
    public let style: Style
    public var threads: Int
    /// Tiles per forward pass and thread.
    public var batchSize = 64
    /// Whether the region fast path may run whole tile rows when the style qualifies (the tiled
    /// path is the reference it matches; images with alpha always take it).
    public var allowsRegionPath = true

    /// Whether this stylizer takes the region fast path (strips of tile rows) for images without
    /// alpha. A working-size style's full-size pass is per pixel and always may; its network then
    /// runs on the small image through the region path when the model qualifies, else tiled.
    public var takesRegionPath: Bool { allowsRegionPath && (style.region != nil || style.workingSize != nil) }

    /// A stylizer for `style` on `threads` threads.
    public init(style: Style, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.style = style
        self.threads = max(1, threads)
    }

    /// What a stylize run produced.
    public struct Result: Sendable {
        public let width: Int
        public let height: Int
        public let tiles: Int
        public let format: ImageFormat
    }

    /// Stylizes `input` into `output`. The input is never overwritten; an existing output is
    /// replaced only with `replacing`. `progress(done, total)` counts tiles and may return false to
    /// cancel.
    @discardableResult
    public func stylize(_ input: URL, to output: URL, options: SaveOptions = SaveOptions(), replacing: Bool = false,
                        pixelLimit: Int = ImageSource.defaultPixelLimit,
                        progress: @escaping @Sendable (Int, Int) -> Bool = { _, _ in true }) throws -> Result {
        if sameFile(input, output) { throw ImageError(output.path, "is the input; refusing to overwrite it") }
        return try stylize(try ImageSource(url: input, pixelLimit: pixelLimit), to: output, options: options,
                           replacing: replacing, progress: progress)
    }

    /// Stylizes an opened source (whose header the caller has looked at already); `journal` keeps
    /// finished strips for a later attempt and gives back an earlier one's; `beforePublishing`
    /// may refuse the finished output just before it is put in place (a worker that lost its job).
    @discardableResult
    public func stylize(_ source: ImageSource, to output: URL, options: SaveOptions = SaveOptions(), replacing: Bool = false,
                        journal: StripJournal? = nil, progress: @escaping @Sendable (Int, Int) -> Bool = { _, _ in true },
                        beforePublishing: () throws -> Void = {}) throws -> Result {
        let grid = TileGrid(width: source.width, height: source.height)
        // An output assembled from bands computes nothing: the working-size pass is not needed.
        let assembling = (journal?.resumedFrom ?? 0) >= grid.rows
        let renderer = TileRenderer(source: source, transform: try transform(for: source, computing: !assembling), journal: journal, progress: progress)
        let format = try renderer.write(to: output, options: options, replacing: replacing, beforePublishing: beforePublishing)
        return Result(width: source.width, height: source.height, tiles: grid.tileCount, format: format)
    }

    /// Stylizes tile rows `band` of `source` into `journal` only, as an output in `format` holds
    /// them: one band of a huge image that several workers share (see TileRenderer's `render`).
    /// Returns the tiles computed or kept.
    @discardableResult
    public func render(band: Range<Int>, of source: ImageSource, format: ImageFormat, journal: StripJournal,
                       progress: @escaping @Sendable (Int, Int) -> Bool = { _, _ in true }) throws -> Int {
        let renderer = TileRenderer(source: source, transform: try transform(for: source), journal: journal, progress: progress)
        try renderer.render(tileRows: band, format: format)
        return band.count * TileGrid(width: source.width, height: source.height).columns
    }

    /// The style as a transform of `source`'s tiles; a working-size style runs its network on
    /// the small image first (unless nothing is `computing`).
    private func transform(for source: ImageSource, computing: Bool = true) throws -> any TileTransform {
        guard computing, let workingSize = style.workingSize else { return StyleTransform(stylizer: self) }
        return try WorkingSizeTransform(stylizer: self, source: source, workingSize: workingSize)
    }
}

/// The style as a tile transform: colour handling around the network, batches over threads.
struct StyleTransform: TileTransform {
    let stylizer: Stylizer

    func outputBands(forColourBands colourBands: Int) -> Int {
        stylizer.style.colour.outputBands(forColourBands: colourBands)
    }

    var handlesRegions: Bool { stylizer.takesRegionPath }

    /// The strip through the region path (its blocks split across the pool).
    func applyRegion(_ strip: Tensor, firstTileRow: Int) throws -> Tensor {
        let style = stylizer.style
        let side = try style.region!.predict(style.colour.networkInput(strip), pool: WorkerPool.shared(threads: stylizer.threads))
        return style.colour.imageOutput(side, tiles: strip, margin: TileGrid.margin)
    }

    func apply(_ tiles: Tensor, tileRow: Int) throws -> Tensor {
        let style = stylizer.style, n = tiles.shape[0]
        let input = style.colour.networkInput(tiles)
        let perTile = input.count / max(n, 1)
        let pool = WorkerPool.shared(threads: stylizer.threads), batch = stylizer.batchSize * pool.threads
        var scalars: [Float] = []
        var outputShape: [Int] = []
        for start in stride(from: 0, to: n, by: batch) {
            let count = min(batch, n - start)
            let tilesHere = Tensor(shape: [count] + input.shape.dropFirst(),
                                   scalars: Array(input.scalars[(start * perTile)..<((start + count) * perTile)]))
            let cores = try style.plan.predict(tilesHere, pool: pool)
            if scalars.isEmpty { scalars.reserveCapacity(n * cores.count / count) }
            scalars.append(contentsOf: cores.scalars)
            outputShape = Array(cores.shape.dropFirst())
        }
        let joined = Tensor(shape: [n] + outputShape, scalars: scalars)
        return style.colour.imageOutput(joined, tiles: tiles, margin: TileGrid.margin)
    }
}

/// A working-size style (see StyleHandling): its network run once, on the image resized to the
/// working size; the full-size pass takes each core's luminance from the image and its CbCr from
/// the network's output enlarged by libvips.
struct WorkingSizeTransform: TileTransform {
    let stylizer: Stylizer
    let chroma: ResampledBands

    /// Runs the network on `source` resized to `workingSize` (the file read a second time:
    /// `source` itself is read once, by the full-size pass).
    init(stylizer: Stylizer, source: ImageSource, workingSize: Int) throws {
        self.stylizer = stylizer
        let style = stylizer.style, path = source.url.path
        let again = try source.reopened()
        guard (again.width, again.height, again.bands) == (source.width, source.height, source.bands) else {
            throw ImageError(path, "changed while it was being read")
        }
        let small = try again.resized(longSide: workingSize)
        let (w, h, c) = (small.width, small.height, small.colourBands)
        let all = try small.readAll()
        let colourOnly = small.hasAlpha ? (0..<(w * h * c)).map { all[$0 / c * small.bands + $0 % c] } : all
        let image = style.colour.networkInput(Tensor(shape: [1, h, w, c], scalars: colourOnly))
        let pool = WorkerPool.shared(threads: stylizer.threads)
        let cbcr = try stylizer.allowsRegionPath && style.region != nil
            ? WholeImage.region(image, plan: style.region!, pool: pool)
            : WholeImage.tiled(image, plan: style.plan, pool: pool, batch: stylizer.batchSize)
        chroma = try ResampledBands(cbcr, width: source.width, height: source.height, path: path)
    }

    func outputBands(forColourBands colourBands: Int) -> Int {
        stylizer.style.colour.outputBands(forColourBands: colourBands)
    }

    var handlesRegions: Bool { stylizer.allowsRegionPath }

    func applyRegion(_ strip: Tensor, firstTileRow: Int) throws -> Tensor {
        let m = TileGrid.outputSize, margin = TileGrid.margin
        let (rows, width) = ((strip.shape[1] - 2 * margin) / m, strip.shape[2] - 2 * margin)
        let cbcr = try chromaRows(firstTileRow * m, count: rows * m, width: width)
        return stylizer.style.colour.imageOutput(Tensor(shape: [1, rows * m, width, 2], scalars: cbcr), tiles: strip, margin: margin)
    }

    func apply(_ tiles: Tensor, tileRow: Int) throws -> Tensor {
        let m = TileGrid.outputSize, columns = tiles.shape[0]
        let side = Tensor(shape: [1, m, columns * m, 2], scalars: try chromaRows(tileRow * m, count: m, width: columns * m))
        return stylizer.style.colour.imageOutput(tileOrdered(side, row: 0), tiles: tiles, margin: TileGrid.margin)
    }

    /// CbCr of image rows `first ..< first + count` as [count, width, 2]; rows and columns past the
    /// image's edge (the last tile row and column's overhang, never written out) are zero.
    private func chromaRows(_ first: Int, count: Int, width: Int) throws -> [Float] {
        let k = chroma.bands, available = max(0, min(count, chroma.height - first))
        var rows = [Float](repeating: 0, count: available * chroma.width * k)
        try rows.withUnsafeMutableBufferPointer { try chroma.read(rows: first..<(first + available), into: $0.baseAddress!) }
        var out = [Float](repeating: 0, count: count * width * k)
        for y in 0..<available {
            let n = min(width, chroma.width) * k
            out.replaceSubrange((y * width * k)..<(y * width * k + n), with: rows[(y * chroma.width * k)..<(y * chroma.width * k + n)])
        }
        return out
    }
}

private func sameFile(_ a: URL, _ b: URL) -> Bool {
    var sa = stat(), sb = stat()
    guard stat(a.path, &sa) == 0, stat(b.path, &sb) == 0 else { return false }
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
}
