// A style learnt from paired folders: batches of random tiles, Adam, a checkpoint (weights,
// optimizer state, dropout generator, step) in SQLite every `checkpointEvery` steps and at each
// epoch end, validation loss on held-out pairs at each checkpoint, the report refreshed at each
// epoch end, and the best validation checkpoint exported as the style's model file.
// Batches depend only on the seed and the step, so a run resumed from its last checkpoint ends
// with the weights an uninterrupted run reaches (for the same thread count).

import ConvCore
import Crypto
import Foundation
import Imaging
import JobStore
import Styles

/// Where a run is, reported after every step.
public struct TrainingProgress: Sendable {
    public let epoch: Int, epochs: Int
    public let step: Int, steps: Int
    /// Mean training loss since the last checkpoint (this step's until then).
    public let loss: Float
    /// At the latest checkpoint.
    public let validationLoss: Float?
    public let tilesPerSecond: Double
    public let secondsLeft: Double?
    /// Whether a checkpoint was just written.
    public let checkpointed: Bool
}

/// What a finished run produced: the installed style, its report and the losses.
public struct TrainingResult: Sendable {
    public let run: Int64
    public let modelFile: URL
    public let report: URL
    public let steps: Int
    public let firstValidationLoss: Double?
    public let bestValidationLoss: Double?
    public let bestStep: Int
}

/// A style learnt from paired folders: started fresh or resumed from its last checkpoint.
public final class StyleTraining {
    public let settings: TrainingSettings
    let run: TrainingRun
    let store: SQLiteStore
    let modelsDirectory: URL
    let report: TrainingReport
    let colour: ColourHandling
    let sampler: TileSampler
    let validation: TileBatch?
    let dataDigest: String
    let pairCounts: (training: Int, validation: Int)
    private var trainer: Trainer
    private var step: Int
    private let pool: WorkerPool

    /// Starts a new run of `settings.name`; `problem` hears about every pair skipped.
    public static func start(_ settings: TrainingSettings, store: SQLiteStore, modelsDirectory: URL, reportsDirectory: URL,
                             problem: (PairProblem) -> Void) throws -> StyleTraining {
        try settings.validate()
        let installed = modelsDirectory.appendingPathComponent("\(settings.name).safetensors")
        guard settings.replace == true || !FileManager.default.fileExists(atPath: installed.path) else {
            throw TrainingError("style '\(settings.name)' is installed already (\(installed.path)); train another name, or give --force to replace it (the old file is kept as \(settings.name).safetensors.bak)")
        }
        let fromStyle = try settings.from.map { try Style.load(URL(fileURLWithPath: $0)) }
        var resolved = settings
        if let fromStyle {
            if settings.workingSize == nil { resolved.workingSize = fromStyle.workingSize }
            guard resolved.workingSize == fromStyle.workingSize else {
                throw TrainingError("\(settings.from!) runs at \(fromStyle.workingSize.map { "a working size of \($0) px" } ?? "full size"); train it at the same size")
            }
        }
        let dataset = try PairedDataset(inputs: URL(fileURLWithPath: settings.inputs), targets: URL(fileURLWithPath: settings.targets),
                                        longSide: resolved.workingSize, problem: problem)
        let initial: Model
        var colour = settings.colour ?? ColourHandling.inferred(inputBands: dataset.pairs.map(\.input.bands).max()!,
                                                                 targetBands: dataset.pairs.map(\.target.bands).max()!)
        if let from = settings.from, let style = fromStyle {
            if settings.colour == nil { colour = style.colour }
            guard style.colour == colour else {
                throw TrainingError("\(from) is a \(style.colour.input.rawValue) -> \(style.colour.output.rawValue) style; these pairs teach \(colour.input.rawValue) -> \(colour.output.rawValue)")
            }
            initial = style.model
        } else {
            let spec = try settings.specFile.map { try ModelSpec(contentsOf: URL(fileURLWithPath: $0)) }
                ?? CropAutoencoder.spec(name: settings.name, inputChannels: colour.modelInputChannels, outputChannels: colour.modelOutputChannels)
            initial = try Model(spec: spec, seed: settings.seed)
        }
        resolved.colour = colour
        do { _ = try StyleHandling(colour: colour, workingSize: resolved.workingSize) } catch let e as ModelError {
            throw TrainingError(e.description)
        }
        resolved.spec = initial.spec.text
        resolved.dataDigest = dataset.digest
        try Self.check(initial, colour: colour, source: settings.from ?? settings.specFile ?? "the default spec")
        let run = try store.startTrainingRun(name: settings.name, settings: resolved.json)
        let trainer = Trainer(model: initial, optimizer: .adam(learningRate: settings.learningRate),
                              loss: settings.loss, seed: settings.seed)
        return try StyleTraining(settings: resolved, run: run, store: store, dataset: dataset, trainer: trainer, step: 0,
                             modelsDirectory: modelsDirectory, reportsDirectory: reportsDirectory)
    }

    /// Continues the latest run of `name` from its last checkpoint (from the start if it had none).
    public static func resume(name: String, store: SQLiteStore, modelsDirectory: URL, reportsDirectory: URL,
                              problem: (PairProblem) -> Void) throws -> StyleTraining {
        guard let run = try store.latestTrainingRun(name: name) else { throw TrainingError("no training run of '\(name)' to resume") }
        guard run.status != .finished else {
            throw TrainingError("the latest run of '\(name)' (run \(run.id)) has finished; start a new one without --resume")
        }
        let settings = try JSONDecoder().decode(TrainingSettings.self, from: Data(run.settings.utf8))
        let dataset = try PairedDataset(inputs: URL(fileURLWithPath: settings.inputs), targets: URL(fileURLWithPath: settings.targets),
                                        longSide: settings.workingSize, problem: problem)
        let trainer: Trainer, step: Int
        if let checkpoint = try store.latestCheckpoint(run: run.id) {
            trainer = try Trainer(resuming: Trainer.Checkpoint(weights: checkpoint.weights, state: checkpoint.optimizer))
            step = checkpoint.step
        } else {
            let initial = try settings.from.map { try Style.load(URL(fileURLWithPath: $0)).model }
                ?? Model(spec: ModelSpec(json: settings.spec!), seed: settings.seed)
            trainer = Trainer(model: initial, optimizer: .adam(learningRate: settings.learningRate), loss: settings.loss,
                              seed: settings.seed)
            step = 0
        }
        try store.forgetMetrics(run: run.id, after: step) // logged after the checkpoint: logged again
        let training = try StyleTraining(settings: settings, run: run, store: store, dataset: dataset, trainer: trainer, step: step,
                                     modelsDirectory: modelsDirectory, reportsDirectory: reportsDirectory)
        guard dataset.digest == settings.dataDigest else {
            throw TrainingError("the pairs in \(settings.inputs) and \(settings.targets) changed since run \(run.id) started; it cannot resume exactly")
        }
        return training
    }

    private init(settings: TrainingSettings, run: TrainingRun, store: SQLiteStore, dataset: PairedDataset, trainer: Trainer, step: Int,
                 modelsDirectory: URL, reportsDirectory: URL) throws {
        (self.settings, self.run, self.store, self.trainer, self.step) = (settings, run, store, trainer, step)
        self.modelsDirectory = modelsDirectory
        colour = settings.colour!
        pool = WorkerPool.shared(threads: settings.threads)
        dataDigest = dataset.digest
        // Held-out pairs: a seeded shuffle of the pairs (in name order); at least one of each
        // side when there are two or more pairs and a split is asked for.
        var order = Array(dataset.pairs.indices)
        var generator = SeededGenerator(seed: settings.seed)
        order.shuffle(using: &generator)
        let count = dataset.pairs.count
        let held = settings.validationSplit == 0 || count < 2 ? 0 : min(count - 1, max(1, Int((Double(count) * settings.validationSplit).rounded())))
        let heldOut = order.prefix(held).sorted().map { dataset.pairs[$0] }
        let training = order.dropFirst(held).sorted().map { dataset.pairs[$0] }
        pairCounts = (training.count, heldOut.count)
        let balance = settings.balance ?? .pixels, baseline = Evaluation.Baseline(colour)
        sampler = TileSampler(pairs: training, colour: colour, augment: settings.augment, seed: settings.seed,
                              weights: balance.weights(of: training, baseline: baseline))
        validation = TileSampler(pairs: heldOut, colour: colour, augment: false, seed: 0,
                                 weights: balance.weights(of: heldOut, baseline: baseline))
            .validation(limit: balance == .baseline ? 2048 : 256) // weighing photos needs many tiles of each
        let shown = heldOut.first ?? training[0]
        report = TrainingReport(directory: reportsDirectory.appendingPathComponent(settings.name),
                                samples: validation ?? sampler.validation(limit: 6)!,
                                handling: try StyleHandling(colour: colour, workingSize: settings.workingSize),
                                whole: (shown.files.input, shown.files.target, heldOut.isEmpty ? "training" : "held-out"))
    }

    /// Trains to the last step, then exports the best checkpoint and writes the report.
    public func train(progress: (TrainingProgress) -> Void = { _ in }) throws -> TrainingResult {
        let total = settings.totalSteps
        // The loss since the last checkpoint (the checkpoint's) and since the last logged point.
        var lossSum: Double = 0, lossCount = 0, recentSum: Double = 0, recentCount = 0
        var lastValidation = try store.latestCheckpoint(run: run.id)?.valLoss.map(Float.init)
        let started = Date(), firstStep = step
        if step == 0 { try writeReport() }
        while step < total {
            let batch = sampler.batch(step: step, size: settings.batch)
            let loss = try trainer.step(inputs: [batch.inputs], targets: [batch.targets], pool: pool)
            guard loss.isFinite else {
                throw TrainingError("the training loss became \(loss) at step \(step + 1); try a smaller learning rate (--lr)")
            }
            step += 1
            lossSum += Double(loss)
            lossCount += 1
            recentSum += Double(loss)
            recentCount += 1
            let epochEnd = step % settings.stepsPerEpoch == 0
            let checkpoint = epochEnd || step % settings.checkpointEvery == 0
            if checkpoint {
                lastValidation = try validationLoss()
                let saved = trainer.checkpoint()
                try store.saveCheckpoint(run: run.id, epoch: (step - 1) / settings.stepsPerEpoch + 1, step: step, epochEnd: epochEnd,
                                         loss: lossSum / Double(lossCount), recentLoss: recentSum / Double(recentCount),
                                         valLoss: lastValidation.map(Double.init), weights: saved.weights, optimizer: saved.state)
                (recentSum, recentCount) = (0, 0)
                if epochEnd { try writeReport() }
            } else if step % settings.lossInterval == 0 {
                try store.logLoss(run: run.id, step: step, loss: recentSum / Double(recentCount))
                (recentSum, recentCount) = (0, 0)
            }
            let elapsed = Date().timeIntervalSince(started)
            let rate = Double((step - firstStep) * settings.batch) / max(elapsed, 1e-9)
            progress(TrainingProgress(epoch: (step - 1) / settings.stepsPerEpoch + 1, epochs: settings.epochs, step: step, steps: total,
                                      loss: Float(lossSum / Double(max(lossCount, 1))), validationLoss: lastValidation,
                                      tilesPerSecond: rate, secondsLeft: elapsed > 0 ? elapsed / Double(step - firstStep) * Double(total - step) : nil,
                                      checkpointed: checkpoint))
            if checkpoint { (lossSum, lossCount) = (0, 0) }
        }
        let file = try export()
        try store.finishTrainingRun(run.id)
        let metrics = try store.trainingMetrics(run: run.id)
        let best = try store.bestCheckpoint(run: run.id) ?? store.latestCheckpoint(run: run.id)
        return TrainingResult(run: run.id, modelFile: file, report: try writeReport(exported: (file, best?.step ?? step)), steps: step,
                              firstValidationLoss: metrics.compactMap(\.valLoss).first, bestValidationLoss: best?.valLoss,
                              bestStep: best?.step ?? step)
    }

    /// Mean loss over the validation tiles, in inference mode.
    private func validationLoss() throws -> Float? {
        guard let validation else { return nil }
        let predicted = try InferencePlan(trainer.model).predict(validation.inputs, pool: pool)
        return try Self.loss(trainer.loss, predicted, validation)
    }

    /// The loss of `predicted` on `tiles`, each tile weighted as the batch says.
    private static func loss(_ loss: Loss, _ predicted: Tensor, _ tiles: TileBatch) throws -> Float {
        guard let weights = tiles.weights else { return try loss.evaluate(prediction: predicted, target: tiles.targets).value }
        let size = predicted.count / max(weights.count, 1)
        var total = 0.0
        for (i, w) in weights.enumerated() {
            let range = i * size..<(i + 1) * size
            let tile = try loss.evaluate(prediction: Tensor(shape: [size], scalars: Array(predicted.scalars[range])),
                                         target: Tensor(shape: [size], scalars: Array(tiles.targets.scalars[range]))).value
            total += Double(w) * Double(tile)
        }
        return Float(total / Double(weights.reduce(0, +)))
    }

    /// Rewrites the report; `exported`: the run has finished and this is its style (file, step).
    @discardableResult
    private func writeReport(exported: (file: URL, step: Int)? = nil) throws -> URL {
        try report.write(run: run, settings: settings, metrics: store.trainingMetrics(run: run.id),
                         epochs: store.epochCheckpoints(run: run.id), exported: exported, pool: pool)
    }

    /// Writes the best validation checkpoint (the latest without validation) to the models folder
    /// with its provenance, checks it loads as a style, and registers it. A CbCr style's chroma
    /// gain is fitted on the validation tiles and folded in first (ChromaGain).
    private func export() throws -> URL {
        guard let best = try store.bestCheckpoint(run: run.id) ?? store.latestCheckpoint(run: run.id) else {
            throw TrainingError("run \(run.id) has no checkpoint to export")
        }
        var model = try Model.decode(best.weights).model
        var gain: Float?, validationLoss = best.valLoss
        if colour.output == .cbcr, let validation {
            let predicted = try InferencePlan(model).predict(validation.inputs, pool: pool)
            let fitted = ChromaGain.fit(predicted: predicted, target: validation.targets, weights: validation.weights)
            if let folded = try ChromaGain.fold(fitted, into: model, predicted: predicted, on: validation.inputs, pool: pool) {
                (model, gain) = (folded.model, fitted)
                validationLoss = Double(try Self.loss(trainer.loss, folded.predicted, validation))
            }
        }
        // No wall-clock time (the run's timestamps are in the database): the same data, settings
        // and thread count give the same file, byte for byte.
        let provenance: [String: Any] = [
            "run": run.id, "step": best.step, "epoch": best.epoch, "steps": settings.totalSteps, "data_digest": dataDigest,
            "training_pairs": pairCounts.training, "validation_pairs": pairCounts.validation,
            "seed": settings.seed, "batch": settings.batch, "learning_rate": Double(settings.learningRate),
            "loss": settings.loss.rawValue, "augment": settings.augment, "balance": (settings.balance ?? .pixels).rawValue, "from": settings.from ?? NSNull(),
        ]
        var metrics: [String: Any] = ["loss_function": settings.loss.rawValue, "train_loss": best.loss]
        if let gain { metrics["chroma_gain"] = (Double(gain) * 1000).rounded() / 1000 }
        if let v = validationLoss {
            metrics["val_loss"] = v
            if settings.loss == .mse { metrics["val_psnr_db"] = (10 * log10(1 / max(v, 1e-12)) * 100).rounded() / 100 }
        }
        let handling = try StyleHandling(colour: colour, workingSize: settings.workingSize)
        let metadata = [Model.styleMetadataKey: handling.json, Model.provenanceMetadataKey: Self.json(provenance), Model.metricsMetadataKey: Self.json(metrics)]
        try FileManager.default.createDirectory(at: modelsDirectory, withIntermediateDirectories: true)
        let file = modelsDirectory.appendingPathComponent("\(settings.name).safetensors")
        if FileManager.default.fileExists(atPath: file.path) {
            // Replacing a style keeps the one it replaces.
            let backup = file.appendingPathExtension("bak")
            guard rename(file.path, backup.path) == 0 else {
                throw TrainingError("\(file.path): cannot keep the old style as \(backup.lastPathComponent): \(String(cString: strerror(errno)))")
            }
        }
        try model.save(to: file, metadata: metadata)
        _ = try Style.load(file, name: settings.name)
        let digest = try ContentDigest.of(file: file.path)
        try store.register(style: StyleRecord(name: settings.name, file: file.path, digest: digest, metrics: metadata[Model.metricsMetadataKey]))
        return file
    }

    private static func check(_ model: Model, colour: ColourHandling, source: String) throws {
        let n = TileGrid.inputSize, m = TileGrid.outputSize
        let shape = try model.predict(Tensor(zeros: [1, n, n, colour.modelInputChannels])).shape
        guard shape == [1, m, m, colour.modelOutputChannels] else {
            throw TrainingError("\(source) maps a \(n)x\(n)x\(colour.modelInputChannels) tile to \(shape.dropFirst().map(String.init).joined(separator: "x")); a \(colour.input.rawValue) -> \(colour.output.rawValue) style needs \(m)x\(m)x\(colour.modelOutputChannels)")
        }
    }

    private static func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}
