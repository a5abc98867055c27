// How close a style comes to its reference: one image's figures (`tessera eval` reports them per
// photo and on average), and the average over held-out photos as `tessera eval --record` stores
// it in the model file (`tessera.heldout`) and `tessera styles` shows it.

import ConvCore
import Foundation

/// A style's figures on one image (or their mean): against its reference, and its baseline's.
public struct StyleScore: Codable, EncodesNulls, Sendable, Equatable {
    public var name: String
    public var psnr: Double
    public var ssim: Double
    public var baselinePsnr: Double
    public var baselineSsim: Double
    /// Colour outputs: mean chroma of the output over the target's.
    public var chromaFraction: Double?
    public var meanCbOffset: Double?
    public var meanCrOffset: Double?
    /// Posterize: share of output samples within 8 levels of the four levels.
    public var onLevels: Double?

    public init(name: String, psnr: Double, ssim: Double, baselinePsnr: Double, baselineSsim: Double, chromaFraction: Double? = nil,
                meanCbOffset: Double? = nil, meanCrOffset: Double? = nil, onLevels: Double? = nil) {
        (self.name, self.psnr, self.ssim, self.baselinePsnr, self.baselineSsim) = (name, psnr, ssim, baselinePsnr, baselineSsim)
        (self.chromaFraction, self.meanCbOffset, self.meanCrOffset, self.onLevels) = (chromaFraction, meanCbOffset, meanCrOffset, onLevels)
    }
}

/// The mean figures of a style on held-out photos, as its model file records them.
public struct HeldOutFigures: Codable, EncodesNulls, Sendable, Equatable {
    public var photos: Int
    /// What the baseline was: "input", "flat_mean" or "grey".
    public var baseline: String
    public var mean: StyleScore

    public init(photos: Int, baseline: String, mean: StyleScore) { (self.photos, self.baseline, self.mean) = (photos, baseline, mean) }

    /// The figures as the metadata stores them (snake_case JSON, sorted keys).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// The figures a model file records, if any (and if they parse).
    public init?(metadata: [String: String]) {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let text = metadata[Model.heldOutMetadataKey], let figures = try? decoder.decode(Self.self, from: Data(text.utf8)) else { return nil }
        self = figures
    }
}
