// `tessera stylize`: images through a style, by hand. One input and one output (INPUT OUTPUT, or
// -o), many inputs or folders into a folder (--out DIR), or standard input to standard output
// (`-`). The models folder comes from the settings (TESSERA_MODELS, --config) unless --models.

import ArgumentParser
import Foundation
import Imaging
import Styles

struct StylizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stylize",
        abstract: "Stylize images: INPUT OUTPUT, INPUT... --out DIR, or - for standard input and output.",
        discussion: """
            Outputs are written atomically (a hidden temporary file, then renamed) and replace an
            existing file of that name; an input is never overwritten. A folder as INPUT means its
            images (with --recursive, those of its subfolders too, written to the same subfolders
            under --out). With several inputs each failure is one line on stderr, the others go on,
            a summary line ends the run and the exit code is 1 if any failed.
            """
    )

    @Argument(help: "Images or folders to stylize (JPEG, PNG, TIFF, WebP, GIF, HEIF/AVIF), or - for standard input; with one INPUT and no --out, the second is the output.")
    var paths: [String]

    @Option(name: [.short, .customLong("output")], help: "The output file for one input (- for standard output).")
    var output: String?

    @Option(help: "A folder for the outputs of several inputs (created if missing).")
    var out: String?

    @Option(name: [.short, .long], help: "A style name from the models folder, or a path to a .safetensors model file.")
    var style: String

    @Option(name: [.customShort("j"), .long], help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: [.short, .long], help: "Output format: jpeg, png, tiff, webp, gif, heif, avif (default: the output's suffix, else the input's format).")
    var format: String?

    @Option(help: "JPEG, WebP and HEIF/AVIF quality, 1-100.")
    var quality: Int = 90

    @Flag(help: "Lossless WebP or HEIF/AVIF.")
    var lossless = false

    @Flag(help: "Folders: their subfolders' images too.")
    var recursive = false

    @Option(help: "Folder of style model files (default: the settings' models folder).")
    var models: String?

    @Option(help: "Refuse images larger than this many megapixels.")
    var maxMegapixels: Int = ImageSource.defaultPixelLimit / 1_000_000

    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be between 1 and 100") }
        if let format, ImageFormat(name: format) == nil {
            throw ValidationError("unknown format '\(format)' (jpeg, png, tiff, webp, gif, heif, avif)")
        }
        guard !paths.isEmpty else { throw ValidationError("give an INPUT") }
        guard out == nil || output == nil else { throw ValidationError("give -o/--output for one input or --out DIR for several, not both") }
        if out == nil && output == nil && paths.count != 2 { throw ValidationError("give INPUT OUTPUT, -o OUTPUT, or --out DIR for several inputs") }
    }

    /// One image to make: where from, where to, and its name in messages.
    struct Work { let input: URL; let output: URL }

    func run() async throws {
        var folder = models
        if folder == nil { folder = try await store.settings().models }
        let style = try StyleRegistry(directory: URL(fileURLWithPath: folder!)).style(self.style)
        let stylizer = Stylizer(style: style, threads: threads)
        let chosen = format.flatMap(ImageFormat.init(name:))
        if out == nil {
            let input = paths[0], target = output ?? paths[1]
            return try single(stylizer, input: input, output: target, format: chosen ?? (target == "-" ? nil : ImageFormat(name: URL(fileURLWithPath: target).pathExtension)))
        }
        let outFolder = URL(fileURLWithPath: out!)
        try FileManager.default.createDirectory(at: outFolder, withIntermediateDirectories: true)
        var work: [Work] = [], failures = 0
        for path in paths {
            do { work += try expand(path, into: outFolder, format: chosen) } catch {
                warn("\(error)")
                failures += 1
            }
        }
        let bar = ProgressBar(unit: "tiles")
        let started = Date()
        var done = 0
        for (n, item) in work.enumerated() {
            do {
                bar.file(n + 1, of: work.count, item.input.lastPathComponent)
                try stylizer.stylize(item.input, to: item.output, options: SaveOptions(format: chosen, quality: quality, lossless: lossless),
                                     replacing: true, pixelLimit: maxMegapixels * 1_000_000,
                                     progress: { d, t in bar.update(d, of: t); return true })
                done += 1
            } catch {
                bar.clear()
                warn("\(error)")
                failures += 1
            }
        }
        bar.finish()
        warn(String(format: "stylized %d of %d files (%d failed) in %.1f s", done, done + failures, failures, Date().timeIntervalSince(started)))
        if failures > 0 { throw ExitCode.failure }
    }

    /// One input to one output (either may be `-`), quiet unless stderr is a terminal.
    private func single(_ stylizer: Stylizer, input: String, output: String, format: ImageFormat?) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-stylize-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        var inputURL = URL(fileURLWithPath: input), outputURL = URL(fileURLWithPath: output)
        if input == "-" || output == "-" { try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true) }
        if input == "-" {
            inputURL = scratch.appendingPathComponent("input")
            try FileHandle.standardInput.readDataToEndOfFile().write(to: inputURL)
        }
        if output == "-" { outputURL = scratch.appendingPathComponent("output") }
        let bar = ProgressBar(unit: "tiles")
        let started = Date()
        let result = try stylizer.stylize(inputURL, to: outputURL, options: SaveOptions(format: format, quality: quality, lossless: lossless),
                                          replacing: true, pixelLimit: maxMegapixels * 1_000_000,
                                          progress: { done, total in bar.update(done, of: total); return true })
        bar.finish()
        if output == "-" { FileHandle.standardOutput.write(try Data(contentsOf: outputURL)) }
        if isatty(STDERR_FILENO) == 1 {
            FileHandle.standardError.write(Data(String(format: "%@: %dx%d %@, %d tiles in %.1f s\n", output, result.width, result.height,
                                                       result.format.rawValue, result.tiles, Date().timeIntervalSince(started)).utf8))
        }
    }

    /// A file, or a folder's images (by suffix; its subfolders' too with --recursive), paired with
    /// their outputs in `folder` (a folder's own subfolders kept).
    private func expand(_ path: String, into folder: URL, format: ImageFormat?) throws -> [Work] {
        let url = URL(fileURLWithPath: path)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw ImageError(path, "no such file") }
        func target(_ input: URL, relative: String) -> URL {
            var name = relative
            if let format { name = (name as NSString).deletingPathExtension + "." + format.suffix }
            return folder.appendingPathComponent(name)
        }
        guard isFolder.boolValue else { return [Work(input: url, output: target(url, relative: url.lastPathComponent))] }
        let keys: [URLResourceKey] = [.isRegularFileKey]
        guard let walker = FileManager.default.enumerator(at: url, includingPropertiesForKeys: keys,
                                                          options: recursive ? [.skipsHiddenFiles] : [.skipsHiddenFiles, .skipsSubdirectoryDescendants]) else {
            throw ImageError(path, "cannot list the folder")
        }
        var work: [Work] = []
        for case let file as URL in walker where ImageFormat(name: file.pathExtension) != nil
            && ((try? file.resourceValues(forKeys: Set(keys)).isRegularFile) ?? false) {
            let relative = String(file.standardizedFileURL.path.dropFirst(url.standardizedFileURL.path.count + 1))
            let output = target(file, relative: relative)
            try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
            work.append(Work(input: file, output: output))
        }
        return work.sorted { $0.input.path < $1.input.path }
    }
}
