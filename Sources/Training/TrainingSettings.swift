// Everything a training run is defined by, stored with the run (JSON) so `--resume` continues
// exactly: the spec text and colour handling are resolved before the run starts.

import ConvCore
import Foundation
import Styles

/// Everything a training run is defined by, stored with the run so it resumes exactly.
public struct TrainingSettings: Codable, Sendable, Equatable {
    public var name: String
    /// Absolute paths of the paired folders.
    public var inputs: String
    public var targets: String
    /// A spec file (JSON) to train from fresh weights; neither this nor `from`: the default crop
    /// autoencoder.
    public var specFile: String?
    /// A model file to start from (fine-tuning a style).
    public var from: String?
    /// nil: inferred from the pairs (grey or colour inputs and targets).
    public var colour: ColourHandling?
    /// The long side pairs are resized to and the style will run its network at (CbCr styles,
    /// see StyleHandling); nil: full size (or the working size of the style trained `from`).
    public var workingSize: Int?
    public var epochs = 10
    public var stepsPerEpoch = 100
    public var batch = 32
    public var learningRate: Float = 0.002
    public var loss = Loss.mse
    /// Share of the pairs held out for validation.
    public var validationSplit = 0.2
    public var seed: UInt64 = 1
    public var augment = true
    /// How the pairs share the tiles; nil (runs stored before the option existed): pixels.
    public var balance: PairBalance?
    /// Steps between checkpoints (and logged metrics); every epoch end is one too.
    public var checkpointEvery = 50
    /// Steps between the training loss points of the report (nil: a 200th of the run, at least 1).
    public var logEvery: Int?
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Whether the run may replace an installed style of its name (the old file is kept as
    /// NAME.safetensors.bak); nil in runs stored before the option existed.
    public var replace: Bool?
    /// Resolved at the start: the spec the run trains and the pairs' digest.
    public var spec: String?
    public var dataDigest: String?

    /// Settings with the defaults for a style `name` from these folders.
    public init(name: String, inputs: String, targets: String) { (self.name, self.inputs, self.targets) = (name, inputs, targets) }

    var totalSteps: Int { epochs * stepsPerEpoch }
    var lossInterval: Int { logEvery ?? max(1, totalSteps / 200) }

    func validate() throws {
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else { throw TrainingError("'\(name)' cannot be a style name") }
        guard epochs >= 1, stepsPerEpoch >= 1, batch >= 1, checkpointEvery >= 1, threads >= 1, lossInterval >= 1 else {
            throw TrainingError("epochs, steps, batch, checkpoint and log intervals and threads must be at least 1")
        }
        guard learningRate > 0, learningRate.isFinite else { throw TrainingError("the learning rate must be positive") }
        guard (0..<1).contains(validationSplit) else { throw TrainingError("the validation split must be in [0, 1)") }
        if specFile != nil && from != nil { throw TrainingError("give a spec or a style to start from, not both") }
    }

    var json: String { String(decoding: try! JSONEncoder.sorted.encode(self), as: UTF8.self) }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
