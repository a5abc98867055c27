// A model file is a safetensors file whose metadata carries the spec ("tessera.spec") beside the
// weights, plus style and provenance entries that other modules add (DESIGN.md §6).

import Foundation

extension Model {
    /// The metadata keys of a model file (DESIGN.md §6): the spec, the colour handling (JSON),
    /// where the weights came from (JSON) and their metrics on validation data (JSON).
    public static let specMetadataKey = "tessera.spec"
    public static let styleMetadataKey = "tessera.style"
    public static let provenanceMetadataKey = "tessera.provenance"
    public static let metricsMetadataKey = "tessera.metrics"
    /// The style's figures on held-out photos (JSON), written by `tessera eval --record`.
    public static let heldOutMetadataKey = "tessera.heldout"

    /// Loads a model file: the spec from its metadata, the weights validated against it.
    public static func load(_ url: URL) throws -> (model: Model, metadata: [String: String]) {
        try decodeFile(url, decode)
    }

    /// Loads weights for a given spec from a safetensors file (its own spec, if any, is ignored).
    public init(spec: ModelSpec, weightsFile url: URL) throws {
        self = try decodeFile(url) { try Model(spec: spec, weights: try Safetensors.decode($0).tensors) }
    }

    /// Writes weights with the spec in the metadata, atomically.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try writeAtomically(encoded(metadata: metadata), to: url)
    }
}

extension Model {
    /// A model file's bytes (see `save`).
    public func encoded(metadata: [String: String] = [:]) -> Data {
        var all = metadata
        all[Self.specMetadataKey] = spec.text
        return Safetensors.encode(weights, metadata: all)
    }

    /// A model from a model file's bytes.
    public static func decode(_ data: Data) throws -> (model: Model, metadata: [String: String]) {
        let contents = try Safetensors.decode(data)
        guard let text = contents.metadata[specMetadataKey] else { throw ModelError("no \(specMetadataKey) in the metadata") }
        return (try Model(spec: try ModelSpec(json: text), weights: contents.tensors), contents.metadata)
    }
}
