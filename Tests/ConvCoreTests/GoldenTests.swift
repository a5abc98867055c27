// Tessera against Keras 3 (JAX backend) on the same weights and inputs: fixtures made by
// Fixtures/generate_goldens.py. Every layer type, activation, colour layer and two composites.

import Foundation
import Testing
@testable import ConvCore

let goldenCases: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: golden.path)) ?? []
    // Case files are "<case>.safetensors"; "<case>.<what>.safetensors" are results about a case.
    return names.filter { $0.hasSuffix(".safetensors") }.map { String($0.dropLast(".safetensors".count)) }
        .filter { !$0.contains(".") }.sorted()
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

    /// Three train_on_batch steps in Keras (MSE, BatchNormalization in training mode, Dropout 0)
    /// against three Trainer steps: the losses, every parameter and moving statistic.
    @Test(arguments: [("adam", Optimizer.adam()), ("sgd_momentum", Optimizer.sgd(learningRate: 0.01, momentum: 0.9))])
    func trainingStepsMatchKeras(_ name: String, _ optimizer: Optimizer) throws {
        let model = try Model.load(golden.appendingPathComponent("unet_crop.safetensors")).model
        let x = try NPY.read(golden.appendingPathComponent("unet_crop.input.npy"))
        let target = try NPY.read(golden.appendingPathComponent("unet_crop.target.npy"))
        let expected = try Safetensors.read(golden.appendingPathComponent("unet_crop.\(name).safetensors"))
        let kerasLosses = try JSONDecoder().decode([Float].self, from: Data(expected.metadata["losses"]!.utf8))

        var trainer = Trainer(model: model, optimizer: optimizer, loss: .mse)
        let losses = try (0..<3).map { _ in try trainer.step(inputs: [x], targets: [target]) }
        #expect(zip(losses, kerasLosses).allSatisfy { abs($0 - $1) <= 1e-4 }, "\(losses) vs \(kerasLosses)")
        #expect(losses[2] != losses[0])

        let weights = trainer.model.weights
        #expect(weights.count == expected.tensors.count)
        for (key, mine) in weights {
            let theirs = try #require(expected.tensors[key])
            #expect(worstError(mine, theirs) <= 1e-4, "\(name) \(key): worst error \(worstError(mine, theirs))")
        }
        // The steps moved the weights well beyond the tolerance, so the comparison means something.
        let start = Dictionary(uniqueKeysWithValues: model.weights.map { ($0.name, $0.tensor) })
        #expect(weights.contains { worstError($0.tensor, start[$0.name]!) > 1e-3 })
    }
}
