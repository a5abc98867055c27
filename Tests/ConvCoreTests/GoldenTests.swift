// Tessera against Keras 3 (JAX backend) on the same weights and inputs: fixtures made by
// Fixtures/generate_goldens.py. Every layer type, activation, colour layer and two composites.

import Foundation
import Testing
@testable import ConvCore

let goldenCases: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: golden.path)) ?? []
    return names.filter { $0.hasSuffix(".safetensors") && !$0.hasSuffix(".train_state.safetensors") }
        .map { String($0.dropLast(".safetensors".count)) }.sorted()
}()

@Suite struct GoldenTests {
    @Test func fixturesCoverEveryLayerType() throws {
        #expect(goldenCases.count >= 45)
        var seen = Set<String>()
        for name in goldenCases {
            let model = try Model.load(golden.appendingPathComponent("\(name).safetensors")).model
            seen.formUnion(model.graph.nodes.map(\.typeName))
            for node in model.graph.nodes {
                if let a = node.layer as? ActivationLayer { seen.insert("activation:" + a.activation.rawValue) }
            }
        }
        let missing = Set(layerTypes.keys).union(Activation.allCases.map { "activation:" + $0.rawValue }).subtracting(seen)
        #expect(missing.isEmpty, "no golden fixture for \(missing.sorted())")
    }

    @Test(arguments: goldenCases)
    func inferenceMatchesKeras(_ name: String) throws {
        let model = try Model.load(golden.appendingPathComponent("\(name).safetensors")).model
        let x = try NPY.read(golden.appendingPathComponent("\(name).input.npy"))
        let expected = try NPY.read(golden.appendingPathComponent("\(name).output.npy"))
        let y = try model.predict(x)
        #expect(y.shape == expected.shape)
        #expect(worstError(y, expected) <= 1e-4, "\(name): worst error \(worstError(y, expected))")
    }

    @Test(arguments: goldenCases.filter {
        FileManager.default.fileExists(atPath: golden.appendingPathComponent("\($0).train_output.npy").path)
    })
    func trainingForwardMatchesKeras(_ name: String) throws {
        var model = try Model.load(golden.appendingPathComponent("\(name).safetensors")).model
        let x = try NPY.read(golden.appendingPathComponent("\(name).input.npy"))
        let expected = try NPY.read(golden.appendingPathComponent("\(name).train_output.npy"))
        var generator = SeededGenerator(seed: 1)
        let y = try model.forwardTraining([x], generator: &generator)[0]
        #expect(worstError(y, expected) <= 1e-4, "\(name): worst error \(worstError(y, expected))")

        let state = try Safetensors.read(golden.appendingPathComponent("\(name).train_state.safetensors")).tensors
        let weights = Dictionary(uniqueKeysWithValues: model.weights.map { ($0.name, $0.tensor) })
        #expect(!state.isEmpty)
        for (key, moved) in state {
            let mine = try #require(weights[key])
            #expect(worstError(mine, moved) <= 1e-4, "\(key): worst error \(worstError(mine, moved))")
        }
    }
}
