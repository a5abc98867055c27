// Panels are ConvCore model specs written in code: the same JSON a style's spec is, so every
// panel runs through the layers the styles use.

import ConvCore
import Foundation

/// Builds a model spec layer by layer; each layer takes the previous one unless told otherwise.
struct SpecBuilder {
    private var layers: [[String: Any]] = []
    private(set) var last = ""

    /// An input of `shape` (height, width, channels).
    mutating func input(_ name: String, _ shape: [Int]) {
        layers.append(["name": name, "type": "InputLayer", "shape": shape])
        last = name
    }

    /// Adds a layer of `type` with Keras arguments, on `inputs` (default: the previous layer).
    @discardableResult
    mutating func add(_ type: String, _ arguments: [String: Any] = [:], inputs: [String]? = nil) -> String {
        let name = "\(type.lowercased())_\(layers.count)"
        var layer = arguments
        (layer["name"], layer["type"]) = (name, type)
        if let inputs { layer["inputs"] = inputs }
        layers.append(layer)
        last = name
        return name
    }

    /// Adds a layer only when `type` is given (a colour conversion that may be none).
    mutating func addIf(_ type: String?, inputs: [String]? = nil) -> String {
        guard let type else { return inputs?.first ?? last }
        return add(type, inputs: inputs)
    }

    func spec(_ name: String) throws -> ModelSpec {
        let data = try JSONSerialization.data(withJSONObject: ["name": name, "layers": layers, "outputs": [last]], options: [.sortedKeys])
        return try ModelSpec(json: String(decoding: data, as: UTF8.self))
    }
}
