// `tessera model summary|run`: inspect a model spec and run it on a .npy batch.

import ArgumentParser
import ConvCore
import Foundation

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect and run model specs.",
        subcommands: [SummaryCommand.self, RunCommand.self, InitCommand.self]
    )
}

/// A spec argument: a JSON spec file, or a model file (.safetensors) that carries its spec.
func loadSpec(_ path: String) throws -> (spec: ModelSpec, modelFile: URL?) {
    let url = URL(fileURLWithPath: path)
    if url.pathExtension == "safetensors" {
        return (try Model.load(url).model.spec, url)
    }
    return (try ModelSpec(contentsOf: url), nil)
}

struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Print the Keras-style summary: layers, output shapes, parameter counts."
    )

    @Argument(help: "A JSON spec or a .safetensors model file.")
    var spec: String

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func run() throws {
        let model = try Model(spec: try loadSpec(spec).spec)
        print(json ? model.summary.json : model.summary.table)
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one inference pass on a float32 NHWC .npy batch."
    )

    @Argument(help: "A JSON spec or a .safetensors model file.")
    var spec: String

    @Option(help: "Weights (.safetensors); defaults to SPEC when it is a model file.")
    var weights: String?

    @Option(help: "Input batch (.npy, float32); repeat for models with several inputs.")
    var input: [String]

    @Option(help: "Where to write the output (.npy); repeat for models with several outputs.")
    var output: [String]

    func validate() throws {
        if input.isEmpty { throw ValidationError("give at least one --input") }
        if output.isEmpty { throw ValidationError("give at least one --output") }
    }

    func run() throws {
        let (spec, modelFile) = try loadSpec(spec)
        guard let weightsURL = weights.map(URL.init(fileURLWithPath:)) ?? modelFile else {
            throw ValidationError("--weights is required when SPEC is a JSON spec")
        }
        let model = try Model(spec: spec, weightsFile: weightsURL)
        let outputs = try model.predict(try input.map { try NPY.read(URL(fileURLWithPath: $0)) })
        guard outputs.count == output.count else {
            throw ValidationError("the model has \(outputs.count) output(s); give as many --output paths")
        }
        for (tensor, path) in zip(outputs, output) { try NPY.write(tensor, to: URL(fileURLWithPath: path)) }
    }
}

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a model file from a JSON spec, with fresh weights from its initializers."
    )

    @Argument(help: "A JSON spec.")
    var spec: String

    @Argument(help: "The model file to write (.safetensors); an existing file is not overwritten.")
    var output: String

    @Option(help: "Seed for the initial weights.")
    var seed: UInt64 = 0

    @Option(help: #"Colour handling, stored as tessera.style, e.g. {"input": "rgb", "output": "rgb"}."#)
    var style: String?

    func run() throws {
        let url = URL(fileURLWithPath: output)
        if FileManager.default.fileExists(atPath: url.path) {
            throw ModelError("\(output) exists; Tessera never overwrites a file")
        }
        let model = try Model(spec: try ModelSpec(contentsOf: URL(fileURLWithPath: spec)), seed: seed)
        try model.save(to: url, metadata: style.map { [Model.styleMetadataKey: $0] } ?? [:])
        print("wrote \(output): \(Summary.grouped(model.summary.totalParams)) parameters")
    }
}
