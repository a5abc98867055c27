// One training step with no I/O: forward in training mode, loss, backward, optimizer update.

public struct Trainer: Sendable {
    public var model: Model
    public var optimizer: Optimizer
    public let loss: Loss
    /// Dropout masks; part of the state a resumed run needs.
    public var generator: SeededGenerator

    public init(model: Model, optimizer: Optimizer, loss: Loss, seed: UInt64 = 0) {
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        generator = SeededGenerator(seed: seed)
    }

    /// Trains on one batch and returns the batch's loss before the update (as Keras reports it).
    @discardableResult
    public mutating func step(inputs: [Tensor], targets: [Tensor]) throws -> Float {
        let tape = try model.record(inputs, training: true, generator: &generator)
        guard targets.count == tape.outputs.count else {
            throw ModelError("model '\(model.name)' has \(tape.outputs.count) output(s), got \(targets.count) target(s)")
        }
        var total: Float = 0
        var outputGradients: [Tensor] = []
        for (y, t) in zip(tape.outputs, targets) {
            let (value, gradient) = try loss.evaluate(prediction: y, target: t)
            total += value
            outputGradients.append(gradient)
        }
        let gradients = model.backward(tape, outputGradients: outputGradients)
        for (i, node) in model.graph.nodes.enumerated() {
            for (p, spec) in node.parameters.enumerated() where spec.trainable {
                optimizer.update("\(node.name).\(spec.name)", &model.parameters[i][p].scalars,
                                 gradient: gradients.parameters[i][p].scalars)
            }
        }
        optimizer.finishStep()
        return total
    }

    /// The loss on a batch in inference mode, without training.
    public func evaluate(inputs: [Tensor], targets: [Tensor]) throws -> Float {
        var total: Float = 0
        for (y, t) in zip(try model.predict(inputs), targets) { total += try loss.evaluate(prediction: y, target: t).value }
        return total
    }
}
