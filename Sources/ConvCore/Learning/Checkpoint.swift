// A trainer's whole state as two blobs (what the SQLite checkpoints table stores): the model file
// and the optimizer state with the step count and the dropout generator. Floats travel as their
// bits, so a resumed run continues exactly where the saved one stopped.

import Foundation

extension Trainer {
    /// A trainer's exact state: the weights as a model file and the optimizer's state, both safetensors bytes.
    public struct Checkpoint: Sendable {
        /// A model file (safetensors with the spec).
        public let weights: Data
        /// Safetensors: optimizer slots; metadata: hyperparameters, iterations, loss, generator.
        public let state: Data

        /// A checkpoint from the bytes a store kept.
        public init(weights: Data, state: Data) { (self.weights, self.state) = (weights, state) }
    }

    /// The state to resume from, bit for bit.
    public func checkpoint() -> Checkpoint {
        var (metadata, tensors) = optimizer.state
        metadata["loss"] = loss.rawValue
        metadata["generator"] = String(generator.state, radix: 16)
        return Checkpoint(weights: model.encoded(), state: Safetensors.encode(tensors, metadata: metadata))
    }

    /// A trainer that continues exactly where `checkpoint` was taken.
    public init(resuming checkpoint: Checkpoint) throws {
        let model = try Model.decode(checkpoint.weights).model
        let state = try Safetensors.decode(checkpoint.state)
        guard let loss = state.metadata["loss"].flatMap(Loss.init(rawValue:)),
              let generator = state.metadata["generator"].flatMap({ UInt64($0, radix: 16) }) else {
            throw ModelError("checkpoint: missing loss or generator state")
        }
        self.init(model: model, optimizer: try Optimizer(state: state.metadata, tensors: state.tensors), loss: loss)
        self.generator = SeededGenerator(seed: generator)
    }
}
