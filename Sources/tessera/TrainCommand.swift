// `tessera pairs make` and `tessera train`: training data from photos, and a style learnt from it.

import ArgumentParser
import ConvCore
import Settings
import Foundation
import Imaging
import JobStore
import Styles
import Training

struct PairsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pairs", abstract: "Make training pairs.",
                                                    subcommands: [MakePairsCommand.self])
}

struct MakePairsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make",
        abstract: "Turn a folder of photos into training pairs (OUT/input, OUT/target) with a reference filter.",
        discussion: """
            posterize: each sRGB channel quantised to 4 levels (0, 85, 170, 255).
            edges:     Sobel gradient magnitude of the BT.601 luma (one band).
            colorize:  the BT.601 luma as input, the colour photo as target.
            Photos are scaled down to --size pixels on the long side; pairs are PNG files.
            """
    )

    @Option(help: "posterize, edges or colorize.")
    var style: String

    @Option(help: "Folder of photos.")
    var from: String

    @Option(help: "Folder to write input/ and target/ into; existing files are never replaced.")
    var out: String

    @Option(help: "Longest side of the pairs in pixels (larger photos are scaled down).")
    var size = 768

    func validate() throws {
        guard ReferenceFilter(rawValue: style) != nil else { throw ValidationError("unknown style '\(style)' (posterize, edges, colorize)") }
        guard size >= 36 else { throw ValidationError("--size must be at least 36") }
    }

    func run() throws {
        let count = try PairMaking.make(ReferenceFilter(rawValue: style)!, from: URL(fileURLWithPath: from), to: URL(fileURLWithPath: out),
                                        longSide: size, problem: { warn("skipped \($0)") })
        print("\(count) pairs in \(out)/input and \(out)/target")
    }
}

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a style from paired folders and install it as Models/NAME.safetensors.",
        discussion: """
            Pairs are matched by base name and must align pixel for pixel. Each step trains on a
            batch of random 36x36 input tiles and their 16x16 target centres (flipped and rotated
            unless --no-augment); held-out pairs give the validation loss at every checkpoint.
            Checkpoints go to the database; --resume continues the latest run of NAME after any
            interruption. The best validation checkpoint becomes the style.
            """
    )

    @Argument(help: "The style's name.")
    var name: String

    @Option(help: "Folder of input images.") var inputs: String?
    @Option(help: "Folder of target images, named as their inputs.") var targets: String?
    @Option(help: "A JSON model spec to train from fresh weights (default: the built-in crop autoencoder).") var spec: String?
    @Option(help: "A style (name or model file) to start from.") var from: String?
    @Option(help: "Epochs.") var epochs: Int?
    @Option(help: "Steps per epoch.") var steps: Int?
    @Option(help: "Tiles per step.") var batch: Int?
    @Option(help: "Adam learning rate.") var lr: Float?
    @Option(help: "mse, mae or huber.") var loss: Loss?
    @Option(help: "Share of the pairs held out for validation.") var valSplit: Double?
    @Option(help: "Seed for weights, held-out pairs and batches.") var seed: UInt64?
    @Option(help: "Steps between checkpoints.") var checkpointEvery: Int?
    @Option(help: "Steps between the report's training loss points (default: a 200th of the run).") var logEvery: Int?
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "Long side in pixels the pairs are resized to and the style runs its network at; its CbCr is enlarged back onto the full-size luminance (colorize-like styles).") var workingSize: Int?
    @Option(help: "How the pairs share the tiles: pixels (each by its area) or baseline (each in inverse proportion to its baseline's error, as eval's per-photo mean weighs it).") var balance: PairBalance?
    @Flag(help: "No flips or rotations.") var noAugment = false
    @Flag(help: "Replace an installed style of this name (the old file is kept as NAME.safetensors.bak).") var force = false
    @Flag(help: "Continue the latest run of NAME with its own settings.") var resume = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        let given: [(String, Any?)] = [("--inputs", inputs), ("--targets", targets), ("--spec", spec), ("--from", from), ("--epochs", epochs),
                                       ("--steps", steps), ("--batch", batch), ("--lr", lr), ("--loss", loss), ("--val-split", valSplit),
                                       ("--seed", seed), ("--checkpoint-every", checkpointEvery), ("--log-every", logEvery), ("--threads", threads), ("--working-size", workingSize), ("--balance", balance),
                                       ("--no-augment", noAugment ? true : nil), ("--force", force ? true : nil)]
        if resume {
            if let (flag, _) = given.first(where: { $0.1 != nil }) {
                throw ValidationError("--resume continues with the run's own settings; drop \(flag)")
            }
        } else if inputs == nil || targets == nil {
            throw ValidationError("give --inputs and --targets (or --resume)")
        }
    }

    func run() async throws {
        let config = try await store.settings()
        // Training runs stay in the SQLite file whatever the job queue: one host trains.
        let database = try SQLiteStore(path: config.database, group: config.group)
        let models = URL(fileURLWithPath: config.models), reports = URL(fileURLWithPath: config.root).appendingPathComponent("training")
        let problem: (PairProblem) -> Void = { warn("skipped \($0)") }
        let training: StyleTraining
        if resume {
            training = try StyleTraining.resume(name: name, store: database, modelsDirectory: models, reportsDirectory: reports, problem: problem)
        } else {
            var settings = TrainingSettings(name: name, inputs: absolute(inputs!), targets: absolute(targets!))
            settings.specFile = spec.map(absolute)
            settings.from = try from.map { try StyleRegistry(directory: models).file($0).path }
            settings.epochs = epochs ?? settings.epochs
            settings.stepsPerEpoch = steps ?? settings.stepsPerEpoch
            settings.batch = batch ?? settings.batch
            settings.learningRate = lr ?? settings.learningRate
            settings.loss = loss ?? settings.loss
            settings.validationSplit = valSplit ?? settings.validationSplit
            settings.seed = seed ?? settings.seed
            settings.checkpointEvery = checkpointEvery ?? settings.checkpointEvery
            settings.logEvery = logEvery
            settings.threads = threads ?? config.threads
            settings.workingSize = workingSize
            settings.augment = !noAugment
            settings.balance = balance
            settings.replace = force ? true : nil
            training = try StyleTraining.start(settings, store: database, modelsDirectory: models, reportsDirectory: reports, problem: problem)
        }
        let line = StatusLine()
        let result = try training.train { p in
            let text = String(format: "epoch %d/%d  step %d/%d  loss %.4g  val %@  %.0f tiles/s  ETA %@", p.epoch, p.epochs, p.step, p.steps,
                              p.loss, p.validationLoss.map { String(format: "%.4g", $0) } ?? "-", p.tilesPerSecond,
                              p.secondsLeft.map(duration) ?? "-")
            line.show(text, keep: p.checkpointed && p.step % training.settings.stepsPerEpoch == 0)
        }
        let first = result.firstValidationLoss.map { String(format: "%.4g", $0) } ?? "-"
        let best = result.bestValidationLoss.map { String(format: "%.4g", $0) } ?? "-"
        print("run \(result.run): \(result.steps) steps; validation loss \(first) first, \(best) best (step \(result.bestStep))")
        print("style \(name): \(result.modelFile.path)")
        print("report: \(result.report.path)")
    }
}

extension Loss: ExpressibleByArgument {}
extension PairBalance: ExpressibleByArgument {}

private func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

func warn(_ text: String) { FileHandle.standardError.write(Data("\(text)\n".utf8)) }

