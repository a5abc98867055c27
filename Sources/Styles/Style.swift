// A style: a trained model file (spec + weights), its colour handling and working size, checked
// once at load to map a 36x36 tile to its 16x16 core with the channels the colour handling implies.

import ConvCore
import Foundation
import Imaging

/// A style: a model file checked to map tiles to cores, compiled for inference, with its colour handling.
public struct Style: Sendable {
    public let name: String
    public let file: URL
    public let model: Model
    /// The model compiled for inference (packed weights, folded BatchNormalization).
    public let plan: InferencePlan
    /// The region fast path, when the model qualifies for it (nil: tiles only).
    public let region: RegionPlan?
    public let colour: ColourHandling
    /// The long side the network sees images at (CbCr styles only); nil: the full size.
    public let workingSize: Int?
    public let metadata: [String: String]

    /// The model file's metrics on validation data (JSON), when it was trained by `tessera train`.
    public var metrics: String? { metadata[Model.metricsMetadataKey] }

    /// The style's figures on held-out photos, when `tessera eval --record` stored them.
    public var heldOut: HeldOutFigures? { HeldOutFigures(metadata: metadata) }

    /// Loads and checks a model file; the error names the file and the reason.
    public static func load(_ file: URL, name: String? = nil) throws -> Style {
        let (model, metadata) = try Model.load(file)
        let handling: StyleHandling
        do { handling = try StyleHandling(metadata: metadata[Model.styleMetadataKey]) } catch let e as ModelError {
            throw ModelError("\(file.path): \(e.description)")
        }
        let colour = handling.colour
        let n = TileGrid.inputSize, m = TileGrid.outputSize
        let probe = Tensor(zeros: [1, n, n, colour.modelInputChannels])
        let plan = InferencePlan(model)
        let shape: [Int]
        do { shape = try plan.predict(probe, pool: .shared(threads: 1)).shape } catch let e as ModelError {
            throw ModelError("\(file.path): not a tile model for \(colour.input.rawValue) input: \(e.description)")
        }
        guard shape == [1, m, m, colour.modelOutputChannels] else {
            throw ModelError("\(file.path): the model maps a \(n)x\(n)x\(colour.modelInputChannels) tile to \(shape.dropFirst().map(String.init).joined(separator: "x")), a \(colour.output.rawValue) style needs \(m)x\(m)x\(colour.modelOutputChannels)")
        }
        return Style(name: name ?? file.deletingPathExtension().lastPathComponent, file: file, model: model, plan: plan,
                     region: try? RegionPlan(model), colour: colour, workingSize: handling.workingSize, metadata: metadata)
    }
}
