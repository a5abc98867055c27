// A model file is a safetensors file whose metadata carries the spec ("tessera.spec") beside the
// weights, plus style and provenance entries that other modules add (DESIGN.md §6).

import Foundation

extension Model {
    public static let specMetadataKey = "tessera.spec"

    /// Loads a model file: the spec from its metadata, the weights validated against it.
    public static func load(_ url: URL) throws -> (model: Model, metadata: [String: String]) {
        let contents = try Safetensors.read(url)
        guard let text = contents.metadata[specMetadataKey] else {
            throw ModelError("\(url.path): no \(specMetadataKey) in the metadata; pass the spec separately")
        }
        do {
            let model = try Model(spec: try ModelSpec(json: text), weights: contents.tensors)
            return (model, contents.metadata)
        } catch let e as ModelError { throw ModelError("\(url.path): \(e.description)") }
    }

    /// Loads weights for a given spec from a safetensors file (its own spec, if any, is ignored).
    public init(spec: ModelSpec, weightsFile url: URL) throws {
        let contents = try Safetensors.read(url)
        do { try self.init(spec: spec, weights: contents.tensors) } catch let e as ModelError {
            throw ModelError("\(url.path): \(e.description)")
        }
    }

    /// Writes weights with the spec in the metadata, atomically.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        var all = metadata
        all[Self.specMetadataKey] = spec.text
        try Safetensors.write(weights, metadata: all, to: url)
    }
}
