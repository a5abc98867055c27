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

    /// Whether this stylizer takes the region fast path for images without alpha.
    public var takesRegionPath: Bool { allowsRegionPath && style.region != nil }

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

    /// Stylizes an opened source (whose header the caller has looked at already).
    @discardableResult
    public func stylize(_ source: ImageSource, to output: URL, options: SaveOptions = SaveOptions(), replacing: Bool = false,
                        progress: @escaping @Sendable (Int, Int) -> Bool = { _, _ in true }) throws -> Result {
        let renderer = TileRenderer(source: source, transform: StyleTransform(stylizer: self), progress: progress)
        let format = try renderer.write(to: output, options: options, replacing: replacing)
        return Result(width: source.width, height: source.height, tiles: TileGrid(width: source.width, height: source.height).tileCount, format: format)
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
    func applyRegion(_ strip: Tensor) throws -> Tensor {
        let style = stylizer.style
        let side = try style.region!.predict(style.colour.networkInput(strip), pool: WorkerPool.shared(threads: stylizer.threads))
        return style.colour.imageOutput(side, tiles: strip, margin: TileGrid.margin)
    }

    func apply(_ tiles: Tensor) throws -> Tensor {
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

private func sameFile(_ a: URL, _ b: URL) -> Bool {
    var sa = stat(), sb = stat()
    guard stat(a.path, &sa) == 0, stat(b.path, &sb) == 0 else { return false }
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
}
