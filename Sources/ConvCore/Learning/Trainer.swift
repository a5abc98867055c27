// One training step with no I/O: forward in training mode, loss, backward, optimizer update.

/// A model, its optimizer and loss: training steps on batches, split across a pool where the layers allow.
public struct Trainer: Sendable {
    public var model: Model
    public var optimizer: Optimizer
    public let loss: Loss
    /// Dropout masks; part of the state a resumed run needs.
    public var generator: SeededGenerator

    /// A trainer from fresh or loaded weights; `seed` draws the dropout masks.
    public init(model: Model, optimizer: Optimizer, loss: Loss, seed: UInt64 = 0) {
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        generator = SeededGenerator(seed: seed)
    }

    /// Trains on one batch and returns the batch's loss before the update (as Keras reports it).
    @discardableResult
    public mutating func step(inputs: [Tensor], targets: [Tensor]) throws -> Float {
        let (value, gradients) = try lossAndGradients(model: &model, inputs: inputs, targets: targets, generator: &generator)
        apply(gradients)
        return value
    }

    /// The same step with the batch split across `pool`: the threads run the forward and
    /// backward pass on shares of it, and the shares' gradients are summed in part order, weighted
    /// by their sizes (the batch mean the single-threaded step takes), so a run is reproducible for
    /// a given thread count. A share is at most `shareTiles` tiles, so its activations stay in the
    /// core's caches (a batch of 64 on two threads goes as four shares). Dropout masks come from
    /// one generator per part, drawn from the trainer's. BatchNormalization's batch statistics and
    /// the sums of its backward pass are the whole batch's: one share per thread, all at once,
    /// add theirs up at each such layer (ShareReduction), so the step equals the one-thread step up
    /// to rounding.
    @discardableResult
    public mutating func step(inputs: [Tensor], targets: [Tensor], pool: WorkerPool) throws -> Float {
        let batch = inputs.first?.shape.first ?? 0
        let model = self.model
        let batchStatistics = model.graph.nodes.contains(where: { $0.layer.usesBatchStatistics })
        let parts = min(batch, batchStatistics ? pool.threads : max(pool.threads, (batch + Self.shareTiles - 1) / Self.shareTiles))
        guard parts > 1 else { return try step(inputs: inputs, targets: targets) }
        let bounds = (0...parts).map { $0 * batch / parts }
        var seeds: [UInt64] = []
        for _ in 0..<parts { seeds.append(generator.next()) }
        let reduction = batchStatistics ? ShareReduction(parts: parts) : nil
        let shares = try pool.map(parts: parts) { p in
            let range = bounds[p]..<bounds[p + 1]
            var share = model
            var generator = SeededGenerator(seed: seeds[p])
            let result = try lossAndGradients(model: &share, inputs: inputs.map { $0.batchSlice(range) },
                                              targets: targets.map { $0.batchSlice(range) }, generator: &generator,
                                              share: reduction.map { ShareSlot(reduction: $0, part: p) })
            return (value: result.value, gradients: result.gradients, parameters: share.parameters)
        }
        // The moving statistics each share moved, from the batch's statistics: the same in every share.
        for (i, node) in self.model.graph.nodes.enumerated() {
            for (p, spec) in node.parameters.enumerated() where !spec.trainable { self.model.parameters[i][p] = shares[0].parameters[i][p] }
        }
        var value: Float = 0
        var total = shares[0].gradients
        for (p, share) in shares.enumerated() {
            let weight = Float(bounds[p + 1] - bounds[p]) / Float(batch)
            value += weight * share.value
            for i in total.indices {
                for j in total[i].indices {
                    total[i][j].scalars.withUnsafeMutableBufferPointer { sum in
                        share.gradients[i][j].scalars.withUnsafeBufferPointer { g in
                            if p == 0 {
                                for k in sum.indices { sum[k] = weight * g[k] }
                            } else {
                                for k in sum.indices { sum[k] = sum[k].addingProduct(weight, g[k]) }
                            }
                        }
                    }
                }
            }
        }
        apply(total)
        return value
    }

    /// The most tiles a share of a split batch takes through the graph (without BatchNormalization).
    static let shareTiles = 16

    /// The loss on a batch in inference mode, without training.
    public func evaluate(inputs: [Tensor], targets: [Tensor]) throws -> Float {
        var total: Float = 0
        for (y, t) in zip(try model.predict(inputs), targets) { total += try loss.evaluate(prediction: y, target: t).value }
        return total
    }

    private func lossAndGradients(model: inout Model, inputs: [Tensor], targets: [Tensor],
                                  generator: inout SeededGenerator, share: ShareSlot? = nil) throws -> (value: Float, gradients: [[Tensor]]) {
        let tape = try model.record(inputs, training: true, generator: &generator, share: share)
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
        return (total, model.backward(tape, outputGradients: outputGradients, inputGradients: false).parameters)
    }

    private mutating func apply(_ gradients: [[Tensor]]) {
        for (i, node) in model.graph.nodes.enumerated() {
            for (p, spec) in node.parameters.enumerated() where spec.trainable {
                optimizer.update("\(node.name).\(spec.name)", &model.parameters[i][p].scalars, gradient: gradients[i][p].scalars)
            }
        }
        optimizer.finishStep()
    }
}
