// Spec and graph errors: each a clear one-line message naming the layer.

import Foundation
import Testing
@testable import ConvCore

@Suite struct ModelGraphTests {
    func failure(_ json: String) -> String {
        errorMessage { _ = try Model(spec: try spec(json)) }
    }

    func layers(_ body: String, input: String = "[8, 8, 3]") -> String {
        #"{"input": {"name": "in", "shape": \#(input)}, "layers": [\#(body)]}"#
    }

    @Test func unknownType() {
        let m = failure(layers(#"{"name": "c", "type": "Conv3D", "filters": 2}"#))
        #expect(m.contains("layer 'c'") && m.contains("unknown type 'Conv3D'") && m.contains("Conv2D"))
    }

    @Test func missingInput() {
        let m = failure(layers(#"{"name": "a", "type": "Add", "inputs": ["in", "ghost"]}"#))
        #expect(m.contains("layer 'a'") && m.contains("'ghost' is not a layer"))
    }

    @Test func cycle() {
        let m = failure(layers(#"""
            {"name": "a", "type": "Add", "inputs": ["in", "b"]},
            {"name": "b", "type": "Activation", "activation": "relu", "inputs": ["a"]}
            """#))
        #expect(m.contains("cycle") && m.contains("'a'") && m.contains("'b'"))
        #expect(failure(layers(#"{"name": "a", "type": "Activation", "inputs": ["a"]}"#)).contains("itself"))
    }

    @Test func shapeMismatch() {
        let m = failure(layers(#"""
            {"name": "p", "type": "MaxPooling2D"},
            {"name": "sum", "type": "Add", "inputs": ["in", "p"]}
            """#))
        #expect(m.contains("layer 'sum' (Add)") && m.contains("(None, 8, 8, 3)") && m.contains("(None, 4, 4, 3)"))
        let cat = failure(layers(#"{"name": "p", "type": "MaxPooling2D"}, {"name": "cat", "type": "Concatenate", "inputs": ["in", "p"]}"#))
        #expect(cat.contains("layer 'cat'") && cat.contains("differ"))
        let tooSmall = failure(layers(#"{"name": "c", "type": "Conv2D", "filters": 2, "kernel_size": 9}"#))
        #expect(tooSmall.contains("layer 'c'") && tooSmall.contains("smaller than the window"))
        let colour = failure(layers(#"{"name": "h", "type": "RGBToHSV"}"#, input: "[8, 8, 4]"))
        #expect(colour.contains("layer 'h'") && colour.contains("3 channels"))
    }

    @Test func argumentErrors() {
        #expect(failure(layers(#"{"name": "c", "type": "Conv2D", "filter": 2, "kernel_size": 3}"#)).contains("missing argument 'filters'"))
        #expect(failure(layers(#"{"name": "c", "type": "Conv2D", "filters": 2, "kernel_size": 3, "dilation_rate": 2}"#))
            .contains("Conv2D has no argument 'dilation_rate'"))
        #expect(failure(layers(#"{"name": "c", "type": "Conv2D", "filters": 2, "kernel_size": 3, "padding": "full"}"#))
            .contains("'padding' must be one of valid, same"))
        #expect(failure(layers(#"{"name": "c", "type": "Conv2D", "filters": 2, "kernel_size": 3, "activation": "gelu"}"#))
            .contains("unknown activation \"gelu\""))
        #expect(failure(layers(#"{"name": "d", "type": "Dropout", "rate": 1.5}"#)).contains("'rate' must be in [0, 1)"))
        #expect(failure(layers(#"{"name": "c", "type": "Conv2D", "filters": 2, "kernel_size": [3, 3, 3]}"#)).contains("'kernel_size'"))
        #expect(failure(layers(#"{"name": "c", "type": "Conv2D", "filters": 2, "kernel_size": 0}"#)).contains("must be positive"))
    }

    @Test func structureErrors() {
        #expect(failure("{not json").contains("not valid JSON"))
        #expect(failure(#"{"layers": []}"#).contains("no layers"))
        #expect(failure(#"{"layers": [{"name": "a", "type": "Flatten"}]}"#).contains("needs an \"input\""))
        #expect(failure(layers(#"{"name": "in", "type": "Flatten"}"#)).contains("two layers are named 'in'"))
        #expect(failure(layers(#"{"type": "Flatten"}"#)).contains("layer #1 needs a \"name\""))
        #expect(failure(layers(#"{"name": "f", "type": "Flatten"}"#).replacingOccurrences(of: "\"layers\"", with: "\"outputs\": [\"g\"], \"layers\""))
            .contains("output 'g' is not a layer"))
        let dead = failure(layers(#"{"name": "side", "type": "Flatten", "inputs": ["in"]}, {"name": "main", "type": "Activation", "inputs": ["in"]}"#))
        #expect(dead.contains("'side' does not lead to any output"))
        #expect(failure(#"{"input": {"name": "in", "shape": [8, 8, 3]}, "layers": [{"name": "f", "type": "Flatten"}], "extra": 1}"#).contains("unknown field \"extra\""))
    }

    @Test func topologicalOrderFollowsWiringNotListing() throws {
        // Layers listed before their inputs still run after them.
        let model = try Model(spec: try spec(layers(#"""
            {"name": "sum", "type": "Add", "inputs": ["b", "a"]},
            {"name": "a", "type": "Conv2D", "filters": 3, "kernel_size": 1, "inputs": ["in"]},
            {"name": "b", "type": "Activation", "activation": "relu", "inputs": ["in"]}
            """#).replacingOccurrences(of: "\"layers\"", with: "\"outputs\": [\"sum\"], \"layers\"")))
        #expect(model.graph.nodes.map(\.name) == ["in", "a", "b", "sum"])
        let x = tensor([1, 8, 8, 3], seed: 4, range: -1...1)
        let y = try model.predict(x)
        let a = try Model(spec: try spec(layers(#"{"name": "a", "type": "Conv2D", "filters": 3, "kernel_size": 1}"#)),
                          weights: Dictionary(uniqueKeysWithValues: model.weights.map { ($0.name, $0.tensor) })).predict(x)
        let expected = Tensor(shape: x.shape, scalars: zip(x.scalars, a.scalars).map { max($0, 0) + $1 })
        #expect(y.maxAbsDifference(expected) <= 1e-6)
    }

    @Test func runTimeShapesAreChecked() throws {
        let model = try Model(spec: try spec(layers(#"{"name": "c", "type": "Conv2D", "filters": 2, "kernel_size": 3}"#, input: "[null, null, 3]")))
        #expect(errorMessage { _ = try model.predict(tensor([1, 8, 8, 4], seed: 1)) }.contains("expects (None, None, None, 3)"))
        #expect(errorMessage { _ = try model.predict(tensor([1, 2, 8, 3], seed: 1)) }.contains("smaller than the window"))
        #expect(errorMessage { _ = try model.predict([]) }.contains("takes 1 input(s), got 0"))
    }

    @Test func summaryTableAndJSON() throws {
        let s = try Model(spec: try ModelSpec(contentsOf: fixtures.appendingPathComponent("unet_crop.json"))).summary
        #expect(s.layers.first?.type == "InputLayer")
        #expect(s.layers.last?.outputShape == [nil, 16, 16, 3])
        let table = s.table
        #expect(table.contains("Model: \"unet_crop\""))
        #expect(table.contains("skip (Concatenate)") && table.contains("up, e2"))
        #expect(table.contains("Total params: \(Summary.grouped(s.totalParams))"))
        #expect(table.contains("Non-trainable params: 96"))
        let decoded = try JSONSerialization.jsonObject(with: Data(s.json.utf8)) as! [String: Any]
        #expect(decoded["total_params"] as? Int == s.totalParams)
        #expect(decoded["trainable_params"] as? Int == s.totalParams - 96)
        let rows = decoded["layers"] as! [[String: Any]]
        #expect(rows.count == s.layers.count)
        #expect(rows.last?["output_shape"] as? [Any?] != nil)
        #expect(Summary.grouped(1_049_600) == "1,049,600" && Summary.grouped(999) == "999")
    }
}
