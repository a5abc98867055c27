// `tessera stylize INPUT OUTPUT --style NAME`: one image through a style, with a progress bar.

import ArgumentParser
import Foundation
import Imaging
import Styles

struct StylizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stylize",
        abstract: "Stylize one image: INPUT through a style into OUTPUT (written atomically; never the input)."
    )

    @Argument(help: "The image to stylize (JPEG, PNG, TIFF, WebP, GIF, HEIF/AVIF).")
    var input: String

    @Argument(help: "Where to write the result; replaced if it exists.")
    var output: String

    @Option(help: "A style name from the models folder, or a path to a .safetensors model file.")
    var style: String

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Output format: jpeg, png, tiff, webp, gif, heif, avif (default: OUTPUT's suffix, else the input's format).")
    var format: String?

    @Option(help: "JPEG, WebP and HEIF/AVIF quality, 1-100.")
    var quality: Int = 90

    @Flag(help: "Lossless WebP or HEIF/AVIF.")
    var lossless = false

    @Option(help: "Folder of style model files.")
    var models: String = "Models"

    @Option(help: "Refuse images larger than this many megapixels.")
    var maxMegapixels: Int = ImageSource.defaultPixelLimit / 1_000_000

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be between 1 and 100") }
        if let format, ImageFormat(name: format) == nil {
            throw ValidationError("unknown format '\(format)' (jpeg, png, tiff, webp, gif, heif, avif)")
        }
    }

    func run() throws {
        let outputURL = URL(fileURLWithPath: output)
        let chosen = format.flatMap(ImageFormat.init(name:)) ?? ImageFormat(name: outputURL.pathExtension)
        let style = try StyleRegistry(directory: URL(fileURLWithPath: models)).style(self.style)
        let bar = ProgressBar(unit: "tiles")
        let started = Date()
        let result = try Stylizer(style: style, threads: threads).stylize(
            URL(fileURLWithPath: input), to: outputURL,
            options: SaveOptions(format: chosen, quality: quality, lossless: lossless), replacing: true,
            pixelLimit: maxMegapixels * 1_000_000,
            progress: { done, total in bar.update(done, of: total); return true })
        bar.finish()
        if isatty(STDERR_FILENO) == 1 {
            let seconds = Date().timeIntervalSince(started)
            FileHandle.standardError.write(Data(String(format: "%@: %dx%d %@, %d tiles in %.1f s\n", output, result.width,
                                                       result.height, result.format.rawValue, result.tiles, seconds).utf8))
        }
    }
}
