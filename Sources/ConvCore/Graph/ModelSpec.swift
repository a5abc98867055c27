// The JSON model spec (DESIGN.md §5): Keras layer vocabulary, layers wired by name, `inputs`
// omitted meaning the previous layer. Parsing checks the JSON's form; ModelGraph checks meaning.

import Foundation

/// A model spec (DESIGN.md §5): Keras layer types and arguments, wiring and outputs, parsed from JSON.
public struct ModelSpec: Sendable {
    struct LayerEntry: Sendable {
        let name: String
        let type: String
        /// Predecessor names; nil means the previous layer in the list.
        let inputs: [String]?
        let arguments: [String: JSONValue]
    }

    public let name: String
    let layers: [LayerEntry]
    /// Output layer names; the last layer when the spec names none.
    let outputs: [String]
    /// The spec as given, stored verbatim in model files.
    public let text: String

    /// Parses a spec, refusing malformed JSON and unknown fields with the reason.
    public init(json text: String) throws {
        let root: JSONValue
        do { root = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) } catch {
            throw ModelError("spec is not valid JSON: \(Self.reason(error))")
        }
        guard case .object(var top) = root else { throw ModelError("spec must be a JSON object") }
        self.text = text

        guard case .array(let items)? = top.removeValue(forKey: "layers") else {
            throw ModelError("spec needs \"layers\": a list of layer objects")
        }
        name = try Self.string(top.removeValue(forKey: "name"), "spec \"name\"") ?? "model"

        var entries: [LayerEntry] = []
        if let input = top.removeValue(forKey: "input") {
            guard case .object(var fields) = input else { throw ModelError("spec \"input\" must be an object with name and shape") }
            let inputName = try Self.string(fields.removeValue(forKey: "name"), "input \"name\"") ?? "input"
            entries.append(LayerEntry(name: inputName, type: InputLayer.typeName, inputs: [], arguments: fields))
        }
        for (index, item) in items.enumerated() {
            guard case .object(var fields) = item else { throw ModelError("layer #\(index + 1) must be a JSON object") }
            guard let layerName = try Self.string(fields.removeValue(forKey: "name"), "layer #\(index + 1) \"name\""),
                  !layerName.isEmpty else {
                throw ModelError("layer #\(index + 1) needs a \"name\"")
            }
            guard let type = try Self.string(fields.removeValue(forKey: "type"), "layer '\(layerName)' \"type\"") else {
                throw ModelError("layer '\(layerName)' needs a \"type\" (a Keras class name such as Conv2D)")
            }
            var inputs: [String]?
            switch fields.removeValue(forKey: "inputs") {
            case nil, .null?: inputs = type == InputLayer.typeName ? [] : nil
            case .string(let s)?: inputs = [s]
            case .array(let a)?:
                inputs = try a.map {
                    guard case .string(let s) = $0 else { throw ModelError("layer '\(layerName)': \"inputs\" must list layer names") }
                    return s
                }
            case let other?: throw ModelError("layer '\(layerName)': \"inputs\" must list layer names, got \(other.text)")
            }
            entries.append(LayerEntry(name: layerName, type: type, inputs: inputs, arguments: fields))
        }
        guard entries.contains(where: { $0.type != InputLayer.typeName }) else { throw ModelError("spec has no layers") }
        guard entries.contains(where: { $0.type == InputLayer.typeName }) else {
            throw ModelError("spec needs an \"input\" ({\"name\": ..., \"shape\": [h, w, c]}) or an InputLayer")
        }
        layers = entries

        switch top.removeValue(forKey: "outputs") {
        case nil, .null?: outputs = [entries.last!.name]
        case .array(let a)? where !a.isEmpty:
            outputs = try a.map {
                guard case .string(let s) = $0 else { throw ModelError("spec \"outputs\" must list layer names") }
                return s
            }
        case .string(let s)?: outputs = [s]
        case let other?: throw ModelError("spec \"outputs\" must list layer names, got \(other.text)")
        }
        if let unknown = top.keys.sorted().first {
            throw ModelError("spec has an unknown field \"\(unknown)\" (known: name, input, layers, outputs)")
        }
    }

    private init(name: String, layers: [LayerEntry], outputs: [String], text: String) {
        (self.name, self.layers, self.outputs, self.text) = (name, layers, outputs, text)
    }

    /// The same spec with its input's height and width set, for running a fully convolutional
    /// model on regions larger than the tile it was built for.
    func withSpatialInput(height: Int, width: Int) -> ModelSpec {
        let layers = self.layers.map { entry -> LayerEntry in
            guard entry.type == InputLayer.typeName, case .array(let shape)? = entry.arguments["shape"], shape.count == 3 else { return entry }
            var arguments = entry.arguments
            arguments["shape"] = .array([.number(Double(height)), .number(Double(width)), shape[2]])
            return LayerEntry(name: entry.name, type: entry.type, inputs: entry.inputs, arguments: arguments)
        }
        return ModelSpec(name: name, layers: layers, outputs: outputs, text: text)
    }

    /// Reads and parses a spec file.
    public init(contentsOf url: URL) throws {
        self = try decodeFile(url) { data in
            guard let text = String(data: data, encoding: .utf8) else { throw ModelError("spec is not UTF-8 text") }
            return try ModelSpec(json: text)
        }
    }

    private static func string(_ v: JSONValue?, _ what: String) throws -> String? {
        switch v {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let other?: throw ModelError("\(what) must be a string, got \(other.text)")
        }
    }

    static func reason(_ error: Error) -> String {
        if let d = error as? DecodingError, case .dataCorrupted(let c) = d {
            return (c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? c.debugDescription
        }
        return (error as NSError).localizedDescription
    }
}
