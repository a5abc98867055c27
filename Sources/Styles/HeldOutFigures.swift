// A style's figures on photos it was never trained on, as `tessera eval --record` stores them in
// the model file (`tessera.heldout`) and `tessera styles` shows them.

import ConvCore
import Foundation

/// Mean figures of a style on held-out photos against its reference and its baseline.
public struct HeldOutFigures: Codable, EncodesNulls, Sendable, Equatable {
    public var photos: Int
    /// What the baseline was: "input", "flat_mean" or "grey".
    public var baseline: String
    public var psnr: Double
    public var ssim: Double
    public var baselinePsnr: Double
    public var baselineSsim: Double
    public var chromaFraction: Double?
    public var meanCbOffset: Double?
    public var meanCrOffset: Double?
    public var onLevels: Double?

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

    public init(photos: Int, baseline: String, psnr: Double, ssim: Double, baselinePsnr: Double, baselineSsim: Double,
                chromaFraction: Double?, meanCbOffset: Double?, meanCrOffset: Double?, onLevels: Double?) {
        (self.photos, self.baseline, self.psnr, self.ssim, self.baselinePsnr, self.baselineSsim) = (photos, baseline, psnr, ssim, baselinePsnr, baselineSsim)
        (self.chromaFraction, self.meanCbOffset, self.meanCrOffset, self.onLevels) = (chromaFraction, meanCbOffset, meanCrOffset, onLevels)
    }
}
