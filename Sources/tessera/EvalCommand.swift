// `tessera eval STYLE --photos DIR | --pairs DIR`: a style against its reference and its baseline.

import ArgumentParser
import Foundation
import Styles
import Training

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a style against its reference: PSNR and SSIM per photo and on average, beside the baseline.",
        discussion: """
            --photos makes the reference pairs with the style's reference filter (posterize, edges,
            colorize); --pairs takes existing pairs (DIR/input and DIR/target, same names). The
            baseline is what a user has without the style: the photo itself, a flat image at the
            target's mean (edges), or the grey input (colorize). Files that cannot be scored are
            reported, one line each, and the rest still scored.
            """
    )

    @Argument(help: "A style name, or a path to a .safetensors model file.") var style: String
    @Option(help: "A folder of photos to make reference pairs from.") var photos: String?
    @Option(help: "Long side of the pairs made from --photos, in pixels.") var size = 512
    @Option(help: "A folder of existing pairs (input/ and target/).") var pairs: String?
    @Option(help: "Threads (default: all cores).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "One JSON object.") var json = false
    @Flag(help: "Store the mean figures in the style's model file (tessera.heldout), for `tessera styles`.") var record = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard (photos == nil) != (pairs == nil) else { throw ValidationError("give exactly one of --photos or --pairs") }
        guard size >= 36, threads >= 1 else { throw ValidationError("--size must be at least 36 and --threads at least 1") }
    }

    func run() async throws {
        let settings = try await store.settings()
        let evaluation = Evaluation(style: try StyleRegistry(directory: URL(fileURLWithPath: settings.models)).style(style), threads: threads)
        let report = try photos.map { try evaluation.photos(URL(fileURLWithPath: $0), longSide: size) }
            ?? evaluation.pairs(URL(fileURLWithPath: pairs!))
        for problem in report.problems { warn("skipped \(problem)") }
        if record { try evaluation.record(report) }
        if json { return try printJSON(report) }
        let colour = report.mean?.chromaFraction != nil, levels = report.mean?.onLevels != nil
        func f(_ x: Double?, _ format: String) -> String { x.map { String(format: format, $0) } ?? "-" }
        let header = ["photo", "PSNR", "SSIM", "baseline PSNR", "baseline SSIM"] + (colour ? ["chroma", "Cb offset", "Cr offset"] : [])
            + (levels ? ["on levels"] : [])
        let rows = (report.photos + (report.mean.map { [$0] } ?? [])).map { s in
            [s.name, f(s.psnr, "%.2f"), f(s.ssim, "%.4f"), f(s.baselinePsnr, "%.2f"), f(s.baselineSsim, "%.4f")]
                + (colour ? [f(s.chromaFraction.map { $0 * 100 }, "%.0f%%"), f(s.meanCbOffset, "%+.4f"), f(s.meanCrOffset, "%+.4f")] : [])
                + (levels ? [f(s.onLevels.map { $0 * 100 }, "%.1f%%")] : [])
        }
        print("style \(report.style), baseline: \(report.baseline.rawValue)")
        print(table(header, rows))
        if report.photos.isEmpty { throw ExitCode.failure }
    }
}
