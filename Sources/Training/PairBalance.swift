// How the training pairs share the tiles of a batch. By default every window position is equally
// likely, so a pair counts by its area, and the loss is the error per pixel. `tessera eval`
// averages PSNR per photo, a logarithm of each photo's error: a near-grey photo whose grey input
// already scores 46 dB loses 10 dB to a faint tint that costs a colourful photo nothing. Drawing a
// pair's windows in inverse proportion to its baseline error (the error of what a user has without
// the style) makes the training loss weigh each photo as that mean does; the weight is floored at
// the error of 40 dB so a nearly perfect baseline does not take every batch.

import Foundation

/// How the pairs of a training run share its tiles.
public enum PairBalance: String, Codable, CaseIterable, Sendable {
    /// Every window position equally likely: a pair counts by its area.
    case pixels
    /// A pair's windows drawn in inverse proportion to its baseline error (as `tessera eval`'s
    /// per-photo mean PSNR weighs it), at most that of a 40 dB baseline.
    case baseline

    /// The baseline error below which a pair weighs no more: 40 dB.
    static let errorFloor = 1e-4

    /// Each pair's weight relative to the others (their mean is 1); nil for `pixels`.
    func weights(of pairs: [Pair], baseline: Evaluation.Baseline) -> [Double]? {
        guard self == .baseline, !pairs.isEmpty else { return nil }
        let raw = pairs.map { 1 / max(Self.baselineError($0, baseline), Self.errorFloor) }
        let mean = raw.reduce(0, +) / Double(raw.count)
        return raw.map { $0 / mean }
    }

    /// The mean squared error of the baseline image against the pair's target, in [0, 1] samples.
    static func baselineError(_ pair: Pair, _ baseline: Evaluation.Baseline) -> Double {
        let (x, t) = (pair.input, pair.target)
        let scale = 1 / 65535.0
        var flat = 0.0
        if baseline == .flatMean { flat = t.samples.reduce(0.0) { $0 + Double($1) } * scale / Double(max(t.samples.count, 1)) }
        var total = 0.0
        for p in 0..<(t.width * t.height) {
            for c in 0..<t.bands {
                let target = Double(t.samples[p * t.bands + c]) * scale
                let base = baseline == .flatMean ? flat : Double(x.samples[p * x.bands + min(c, x.bands - 1)]) * scale
                total += (base - target) * (base - target)
            }
        }
        return total / Double(max(t.samples.count, 1))
    }
}
