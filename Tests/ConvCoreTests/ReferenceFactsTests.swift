// DESIGN.md §10: the facts the product grew out of, each checked.

import Foundation
import Testing
@testable import ConvCore

@Suite struct ReferenceFactsTests {
    @Test func convolutionSumsOverInputChannels() throws {
        let s = try singleLayer(#"{"name": "c", "type": "Conv2D", "filters": 1, "kernel_size": 2, "activation": "relu", "kernel_initializer": "ones"}"#,
                                input: "[3, 3, 3]")
        let model = try Model(spec: s)
        #expect(model.summary.totalParams == 13)
        // Every pixel is (1, 100, 10000); bias starts at zero.
        let x = Tensor(shape: [1, 3, 3, 3], scalars: Array((0..<9).map { _ in [Float(1), 100, 10000] }.joined()))
        let y = try model.predict(x)
        #expect(y.shape == [1, 2, 2, 1])
        #expect(y.scalars == [40404, 40404, 40404, 40404])
    }

    func params(_ layer: String, input: String) throws -> Int {
        try Model(spec: try singleLayer(layer, input: input)).summary.totalParams
    }

    @Test func parameterCounts() throws {
        #expect(try params(#"{"name": "c", "type": "Conv2D", "filters": 64, "kernel_size": 3}"#, input: "[28, 28, 1]") == 640)
        #expect(try params(#"{"name": "c", "type": "Conv2D", "filters": 32, "kernel_size": 7}"#, input: "[28, 28, 1]") == 1600)
        #expect(try params(#"{"name": "c", "type": "Conv2D", "filters": 16, "kernel_size": 3}"#, input: "[36, 36, 3]") == 448)
        #expect(try params(#"{"name": "c", "type": "Conv2D", "filters": 16, "kernel_size": 3}"#, input: "[36, 36, 16]") == 2320)
        #expect(try params(#"{"name": "d", "type": "Dense", "units": 3}"#, input: "[36, 36, 3]") == 12)
        let bn = try Model(spec: try singleLayer(#"{"name": "bn", "type": "BatchNormalization"}"#, input: "[36, 36, 16]")).summary
        #expect(bn.totalParams == 64)
        #expect(bn.trainableParams == 32)
        let flat = try Model(spec: try spec(#"""
            {"input": {"name": "in", "shape": [32, 32, 1]}, "layers": [
              {"name": "f", "type": "Flatten"}, {"name": "d", "type": "Dense", "units": 1024}]}
            """#)).summary
        #expect(flat.totalParams == 1_049_600)
        #expect(flat.layers.map(\.outputShape) == [[nil, 32, 32, 1], [nil, 1024], [nil, 1024]])
    }

    @Test func convPoolBlockParameters() throws {
        let s = try ModelSpec(contentsOf: fixtures.appendingPathComponent("conv_pool.json"))
        let summary = try Model(spec: s).summary
        let byName = Dictionary(uniqueKeysWithValues: summary.layers.map { ($0.name, $0) })
        #expect(byName["mc1"]?.params == 448)
        #expect(byName["mbn1"]?.params == 64)
        #expect(byName["mc2"]?.params == 2320)
        #expect(byName["dense"]?.params == 12)
        #expect(byName["cat"]?.outputShape == [nil, 8, 8, 35])
    }

    func shape(_ layers: String, input: String) throws -> [Int?] {
        try Model(spec: try spec(#"{"input": {"name": "in", "shape": \#(input)}, "layers": [\#(layers)]}"#)).summary.layers.last!.outputShape
    }

    @Test func outputSizes() throws {
        let conv5 = #"{"name": "c5", "type": "Conv2D", "filters": 3, "kernel_size": 5}"#
        #expect(try shape(conv5, input: "[380, 512, 3]") == [nil, 376, 508, 3])
        #expect(try shape(conv5 + #", {"name": "c3", "type": "Conv2D", "filters": 5, "kernel_size": 3, "strides": 2}"#,
                          input: "[380, 512, 3]") == [nil, 187, 253, 5])
        #expect(try shape(#"{"name": "p", "type": "MaxPooling2D", "pool_size": 2}"#, input: "[380, 512, 3]") == [nil, 190, 256, 3])
        for (padding, height) in [("valid", 46), ("same", 47)] {
            let stack = conv5 + #"""
                , {"name": "p1", "type": "MaxPooling2D", "pool_size": 2, "padding": "\#(padding)"},
                {"name": "c3", "type": "Conv2D", "filters": 5, "kernel_size": 3, "strides": 2},
                {"name": "p2", "type": "MaxPooling2D", "pool_size": 2, "padding": "\#(padding)"}
                """#
            #expect(try shape(stack, input: "[380, 512, 3]") == [nil, height, 63, 5])
        }
    }

    @Test(arguments: [(5, 3, 2), (7, 4, 2), (6, 1, 3), (9, 5, 3), (4, 2, 2), (8, 3, 1)])
    func transposedConvolutionSizes(_ i: Int, _ k: Int, _ s: Int) throws {
        for padding in ["valid", "same"] {
            let layer = #"{"name": "t", "type": "Conv2DTranspose", "filters": 2, "kernel_size": \#(k), "strides": \#(s), "padding": "\#(padding)"}"#
            let expected = padding == "same" ? i * s : (i - 1) * s + max(k, s)
            #expect(try shape(layer, input: "[\(i), \(i + 1), 3]") == [nil, expected, padding == "same" ? (i + 1) * s : i * s + max(k, s), 2])
            // Keras' (i-1)*s + k whenever the kernel covers the stride.
            if padding == "valid" && k >= s { #expect(expected == (i - 1) * s + k) }
            // And the forward pass produces that shape.
            let model = try Model(spec: try singleLayer(layer, input: "[\(i), \(i + 1), 3]"))
            #expect(try model.predict(tensor([1, i, i + 1, 3], seed: 1)).shape == [1, expected, padding == "same" ? (i + 1) * s : i * s + max(k, s), 2])
        }
    }

    @Test func oneByOneConvolutionIsPerPixelDense() throws {
        let conv = try Model(spec: try singleLayer(#"{"name": "l", "type": "Conv2D", "filters": 5, "kernel_size": 1, "bias_initializer": "ones"}"#, input: "[6, 7, 4]"), seed: 3)
        let kernel = conv.weights[0].tensor
        let dense = try Model(spec: try singleLayer(#"{"name": "l", "type": "Dense", "units": 5}"#, input: "[6, 7, 4]"),
                              weights: ["l.kernel": kernel.reshaped([4, 5]), "l.bias": Tensor(repeating: 1, shape: [5])])
        let x = tensor([2, 6, 7, 4], seed: 9, range: -1...1)
        #expect(worstError(try conv.predict(x), try dense.predict(x)) <= 1e-6)
    }

    @Test func globalPoolingTakesAnySizeWhereFlattenCannot() throws {
        let global = try Model(spec: try spec(#"""
            {"input": {"name": "in", "shape": [null, null, 3]}, "layers": [
              {"name": "c", "type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"},
              {"name": "g", "type": "GlobalAveragePooling2D"}, {"name": "d", "type": "Dense", "units": 2}]}
            """#))
        #expect(global.summary.layers.map(\.outputShape) == [[nil, nil, nil, 3], [nil, nil, nil, 4], [nil, 4], [nil, 2]])
        #expect(try global.predict(tensor([2, 9, 13, 3], seed: 1)).shape == [2, 2])
        #expect(try global.predict(tensor([1, 40, 20, 3], seed: 2)).shape == [1, 2])
        let message = errorMessage {
            _ = try Model(spec: try spec(#"""
                {"input": {"name": "in", "shape": [null, null, 3]}, "layers": [
                  {"name": "f", "type": "Flatten"}, {"name": "d", "type": "Dense", "units": 2}]}
                """#))
        }
        #expect(message.contains("'f'") && message.contains("every size must be known"))
    }
}
