// `tessera eval`: how close a style's output is to its reference on photos it has not seen, and
// how that compares with the baseline a user gets without it: posterize against the photo itself,
// edges against a flat image at the target's mean, colorize against the grey input shown as
// colour. Each pair's input goes through the Stylizer as the daemon runs it (lossless PNG out),
// and output, target and baseline are compared in [0, 1]: PSNR over every sample, SSIM (Wang et
// al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03) averaged over channels. For a
// colour output also its chroma (the length of (Cb, Cr) - 0.5, BT.601) as a fraction of the
// target's and the mean Cb and Cr offsets (output minus target); for posterize the share of
// output samples within 8 levels of 0, 85, 170 or 255.

import ConvCore
import Foundation
import Imaging
import Styles

public struct Evaluation: Sendable {
    public let style: Style
    public var threads: Int
    /// The reference filter the style imitates, when it is one of the shipped kinds (by name).
    public var filter: ReferenceFilter?

    /// An evaluation of `style` on `threads` threads.
    public init(style: Style, threads: Int) {
        (self.style, self.threads) = (style, threads)
        filter = ReferenceFilter(rawValue: style.name)
    }

    /// What the baseline is for a style: what a user would have without it.
    public enum Baseline: String, Codable, Sendable {
        /// The input itself (a style that changes the look of a photo).
        case input
        /// A flat image at the target's mean (a style that draws something new, such as edges).
        case flatMean = "flat_mean"
        /// The grey input as a colour image (colorize).
        case grey

        /// The baseline of styles with this colour handling.
        init(_ colour: ColourHandling) {
            switch colour.output {
            case .cbcr: self = .grey
            case .luminance where colour.input != .luminance: self = .flatMean
            default: self = .input
            }
        }
    }

    /// One pair's figures (and their mean).
    public typealias Score = StyleScore

    /// Every pair's figures, their means, and the pairs that could not be scored.
    public struct Report: Codable, EncodesNulls, Sendable {
        public var style: String
        public var baseline: Baseline
        public var photos: [Score]
        public var mean: Score?
        public var problems: [String]

        /// The mean figures as a model file records them; nil without scored photos.
        public var heldOut: HeldOutFigures? { mean.map { HeldOutFigures(photos: photos.count, baseline: baseline.rawValue, mean: $0) } }
    }

    /// The baseline of this style: the grey input for styles that predict chroma, a flat image
    /// for styles whose output has fewer bands than their input (drawings), else the input.
    public var baseline: Baseline { Baseline(style.colour) }

    /// Scores photos through the style's reference filter (pairs made at `longSide` in a scratch
    /// folder that is removed afterwards).
    public func photos(_ folder: URL, longSide: Int) throws -> Report {
        guard let filter else {
            throw TrainingError("style '\(style.name)' has no reference filter to make pairs with (\(ReferenceFilter.allCases.map(\.rawValue).joined(separator: ", "))); give --pairs")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-eval-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        var problems: [String] = []
        _ = try PairMaking.make(filter, from: folder, to: scratch, longSide: longSide) { problems.append($0.description) }
        var report = try pairs(scratch)
        report.problems = problems + report.problems
        return report
    }

    /// Scores existing pairs: `folder/input` and `folder/target`, matched by base name.
    public func pairs(_ folder: URL) throws -> Report {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let inputs = try PairedDataset.imageFiles(in: folder.appendingPathComponent("input"))
        let targets = Dictionary(try PairedDataset.imageFiles(in: folder.appendingPathComponent("target")).map { (PairedDataset.baseName($0), $0) },
                                 uniquingKeysWith: { a, _ in a })
        var scores: [Score] = [], problems: [String] = []
        let stylizer = Stylizer(style: style, threads: threads)
        for input in inputs {
            let name = PairedDataset.baseName(input)
            guard let target = targets[name] else { problems.append("\(input.path): no target named \(name)"); continue }
            do {
                let output = scratch.appendingPathComponent("\(name).png")
                try stylizer.stylize(input, to: output, options: SaveOptions(format: .png), replacing: true)
                scores.append(try score(name, input: input, output: output, target: target))
            } catch let error as ImageError {
                problems.append(error.description)
            } catch let error as ModelError {
                problems.append("\(input.path): \(error.description)")
            }
        }
        return Report(style: style.name, baseline: baseline, photos: scores, mean: Self.mean(scores), problems: problems)
    }

    private func score(_ name: String, input: URL, output: URL, target: URL) throws -> Score {
        let (x, y, t) = (try ImageFile.load(input).pixels, try ImageFile.load(output).pixels, try ImageFile.load(target).pixels)
        guard y.shape == t.shape else {
            throw ImageError(output.path, "the output is \(y.shape.dropFirst().map(String.init).joined(separator: "x")), the target \(t.shape.dropFirst().map(String.init).joined(separator: "x"))")
        }
        let base: Tensor
        switch baseline {
        case .input: base = x
        case .grey: base = Tensor(shape: t.shape, scalars: x.scalars.flatMap { [Float](repeating: $0, count: t.shape[3]) })
        case .flatMean: base = Tensor(repeating: t.scalars.reduce(0, +) / Float(max(t.count, 1)), shape: t.shape)
        }
        guard base.shape == t.shape else { throw ImageError(input.path, "the input's size or bands do not match the target's") }
        var score = Score(name: name, psnr: Self.psnr(y, t), ssim: Self.ssim(y, t), baselinePsnr: Self.psnr(base, t), baselineSsim: Self.ssim(base, t))
        if t.shape[3] == 3 && baseline == .grey {
            let (a, b) = (ColourConversion.rgbToYCbCr(y), ColourConversion.rgbToYCbCr(t))
            score.chromaFraction = Self.chroma(a) / max(Self.chroma(b), 1e-12)
            score.meanCbOffset = Self.meanDifference(a, b, channel: 1)
            score.meanCrOffset = Self.meanDifference(a, b, channel: 2)
        }
        if filter == .posterize {
            score.onLevels = Double(y.scalars.filter { v in [0, 85, 170, 255].contains { abs(v * 255 - $0) <= 8 } }.count) / Double(max(y.count, 1))
        }
        return score
    }

    /// Peak signal-to-noise ratio in dB for samples in [0, 1], at most 100 dB (equal images).
    public static func psnr(_ a: Tensor, _ b: Tensor) -> Double {
        let mse = zip(a.scalars, b.scalars).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / Double(max(a.count, 1))
        return min(100, 10 * log10(1 / mse))
    }

    /// Mean structural similarity of two [1, h, w, c] images in [0, 1], averaged over channels.
    public static func ssim(_ a: Tensor, _ b: Tensor) -> Double {
        let (h, w, c) = (a.shape[1], a.shape[2], a.shape[3])
        let (c1, c2) = (0.01 * 0.01, 0.03 * 0.03)
        var total = 0.0
        for ch in 0..<c {
            let x = (0..<(h * w)).map { Double(a.scalars[$0 * c + ch]) }, y = (0..<(h * w)).map { Double(b.scalars[$0 * c + ch]) }
            let (mx, my) = (gaussianBlur(x, h, w), gaussianBlur(y, h, w))
            let (xx, yy, xy) = (gaussianBlur(zip(x, x).map(*), h, w), gaussianBlur(zip(y, y).map(*), h, w), gaussianBlur(zip(x, y).map(*), h, w))
            var sum = 0.0
            for i in 0..<(h * w) {
                let (vx, vy, cov) = (xx[i] - mx[i] * mx[i], yy[i] - my[i] * my[i], xy[i] - mx[i] * my[i])
                sum += ((2 * mx[i] * my[i] + c1) * (2 * cov + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2))
            }
            total += sum / Double(max(h * w, 1))
        }
        return total / Double(max(c, 1))
    }

    /// An 11-tap Gaussian (sigma 1.5) along rows then columns, the window renormalised at the edges.
    private static func gaussianBlur(_ v: [Double], _ h: Int, _ w: Int) -> [Double] {
        let taps = (-5...5).map { exp(-Double($0 * $0) / (2 * 1.5 * 1.5)) }
        func pass(_ v: [Double], along rows: Bool) -> [Double] {
            (0..<(h * w)).map { i in
                let (y, x) = (i / w, i % w)
                var (sum, weight) = (0.0, 0.0)
                for (k, t) in taps.enumerated() {
                    let (yy, xx) = rows ? (y, x + k - 5) : (y + k - 5, x)
                    guard yy >= 0, yy < h, xx >= 0, xx < w else { continue }
                    sum += t * v[yy * w + xx]
                    weight += t
                }
                return sum / weight
            }
        }
        return pass(pass(v, along: true), along: false)
    }

    /// Mean length of (Cb, Cr) - 0.5 over the pixels of a YCbCr image.
    private static func chroma(_ ycbcr: Tensor) -> Double {
        let pixels = ycbcr.count / 3
        return (0..<pixels).reduce(0.0) { sum, p in
            let (cb, cr) = (Double(ycbcr.scalars[3 * p + 1]) - 0.5, Double(ycbcr.scalars[3 * p + 2]) - 0.5)
            return sum + (cb * cb + cr * cr).squareRoot()
        } / Double(max(pixels, 1))
    }

    private static func meanDifference(_ a: Tensor, _ b: Tensor, channel: Int) -> Double {
        let pixels = a.count / 3
        return (0..<pixels).reduce(0.0) { $0 + Double(a.scalars[3 * $1 + channel] - b.scalars[3 * $1 + channel]) } / Double(max(pixels, 1))
    }

    /// Rewrites the style's model file with `report`'s figures as its held-out metadata.
    public func record(_ report: Report) throws {
        guard let figures = report.heldOut else { throw TrainingError("no photo was scored; nothing to record") }
        var (model, metadata) = try Model.load(style.file)
        metadata[Model.heldOutMetadataKey] = figures.json
        try model.save(to: style.file, metadata: metadata) // the spec is written from the model
        model = try Model.load(style.file).model // and the file still loads
    }

    /// The mean of every figure over the pairs (nil without pairs).
    static func mean(_ scores: [Score]) -> Score? {
        guard !scores.isEmpty else { return nil }
        func average(_ f: (Score) -> Double?) -> Double? {
            let values = scores.compactMap(f)
            return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
        }
        return Score(name: "mean", psnr: average(\.psnr)!, ssim: average(\.ssim)!, baselinePsnr: average(\.baselinePsnr)!,
                     baselineSsim: average(\.baselineSsim)!, chromaFraction: average(\.chromaFraction),
                     meanCbOffset: average(\.meanCbOffset), meanCrOffset: average(\.meanCrOffset), onLevels: average(\.onLevels))
    }
}
