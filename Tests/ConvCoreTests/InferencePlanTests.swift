// The inference plan (packed weights, folded BatchNormalization, fused activations, tile windows,
// batches split across threads) gives what the layer-by-layer forward pass gives, and what Keras gives.

import Foundation
import Testing
@testable import ConvCore

@Suite struct InferencePlanTests {
    /// Every single-input, single-output golden model through the plan on two threads.
    @Test(arguments: goldenCases)
    func planMatchesKeras(_ name: String) throws {
        let model = try Model.load(golden.appendingPathComponent("\(name).safetensors")).model
        try #require(model.graph.inputNodes.count == 1 && model.graph.outputNodes.count == 1, "\(name): the plan takes one input and one output")
        let x = try NPY.read(golden.appendingPathComponent("\(name).input.npy"))
        let expected = try NPY.read(golden.appendingPathComponent("\(name).output.npy"))
        let y = try InferencePlan(model).predict(x, pool: .shared(threads: 2))
        #expect(worstError(y, expected) <= 1e-4, "\(name): worst error \(worstError(y, expected))")
    }

    /// Each folding rule, with moving statistics far from 0 and 1 so a wrong fold shows.
    @Test func foldedBatchNormalizationAndFusedActivationsMatchTheForwardPass() throws {
        let spec = try spec(#"""
        {"input": {"name": "in", "shape": [20, 28, 5]}, "layers": [
          {"name": "linear", "type": "Conv2D", "filters": 24, "kernel_size": 3, "padding": "same"},
          {"name": "bn1", "type": "BatchNormalization"},
          {"name": "act", "type": "Activation", "activation": "leaky_relu"},
          {"name": "relu", "type": "Conv2D", "filters": 16, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"},
          {"name": "bn2", "type": "BatchNormalization"},
          {"name": "drop", "type": "Dropout", "rate": 0.5},
          {"name": "branch", "type": "Conv2D", "filters": 16, "kernel_size": 1},
          {"name": "bn3", "type": "BatchNormalization"},
          {"name": "sum", "type": "Add", "inputs": ["bn3", "branch"]},
          {"name": "out", "type": "Conv2D", "filters": 3, "kernel_size": 5, "activation": "sigmoid"}],
         "outputs": ["out"]}
        """#)
        var weights = Dictionary(uniqueKeysWithValues: try Model(spec: spec, seed: 3).weights.map { ($0.name, $0.tensor) })
        for (key, value) in weights where key.hasPrefix("bn") {
            let range: ClosedRange<Float> = key.hasSuffix("variance") ? 0.2...3 : -1.5...1.5
            weights[key] = tensor(value.shape, seed: UInt64(key.count * 31 + Int(key.utf8.last!)), range: range)
        }
        let model = try Model(spec: spec, weights: weights)
        let plan = InferencePlan(model)
        // bn1 and act fold into "linear", bn2 runs in relu's epilogue, drop vanishes; bn3 (its
        // convolution's output is also read by "sum") stays.
        #expect(plan.steps.count == 6, "\(plan.steps.map { model.graph.nodes[$0.node].name })")
        let x = tensor([7, 20, 28, 5], seed: 9, range: -1...1)
        let expected = try model.predict(x)
        for threads in [1, 2, 3] {
            let y = try plan.predict(x, pool: .shared(threads: threads))
            #expect(y.shape == expected.shape && worstError(y, expected) <= 1e-5, "\(threads) threads: \(worstError(y, expected))")
        }
    }

    /// The U-Net of the benchmarks computes each layer on the window its 16x16 core reads.
    @Test func tileWindowsFollowTheCoreBackThroughEveryLayer() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/region_unet.json")
        let model = try Model(spec: try ModelSpec(json: String(contentsOf: url, encoding: .utf8)), seed: 5)
        let windows = try #require(TileWindows.analyse(model.graph))
        func rows(_ name: String) -> Range<Int>? { windows[model.graph.nodes.firstIndex { $0.name == name }!]?.output.rows }
        // out keeps rows 10..<26 of rgb and of the join; "up" reads m2's 5..<13; m2 reads m1's
        // 4..<14, m1 the pool's 3..<15, the pool e2's 6..<30 (which covers the join's 10..<26),
        // e2 e1's 5..<31.
        #expect([rows("rgb"), rows("up"), rows("m2"), rows("m1"), rows("pool"), rows("e2"), rows("e1")]
                == [10..<26, 10..<26, 5..<13, 4..<14, 3..<15, 6..<30, 5..<31])
        let x = tensor([5, 36, 36, 3], seed: 4)
        let y = try InferencePlan(model).predict(x, pool: .shared(threads: 2))
        #expect(worstError(y, try model.predict(x)) <= 1e-5)
    }

    /// Windows through strided and 'same' pooling (one kind reads no padding, one does),
    /// strided and transposed convolutions wider than their stride, upsampling (computed whole),
    /// a concatenation, BatchNormalization and an asymmetric crop.
    @Test func tileWindowsGiveTheWholeModelsNumbers() throws {
        let spec = try spec(#"""
        {"input": {"name": "in", "shape": [36, 36, 3]}, "layers": [
          {"name": "c1", "type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
          {"name": "p1", "type": "MaxPooling2D", "pool_size": 3, "strides": 2, "padding": "same"},
          {"name": "c2", "type": "Conv2D", "filters": 8, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "tanh"},
          {"name": "t1", "type": "Conv2DTranspose", "filters": 8, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"},
          {"name": "up", "type": "UpSampling2D", "size": 2},
          {"name": "cat", "type": "Concatenate", "inputs": ["up", "c1"]},
          {"name": "a1", "type": "AveragePooling2D", "pool_size": 3, "strides": 1, "padding": "same"},
          {"name": "bn", "type": "BatchNormalization"},
          {"name": "c3", "type": "Conv2D", "filters": 3, "kernel_size": 5, "activation": "sigmoid"},
          {"name": "crop", "type": "Cropping2D", "cropping": [[7, 9], [8, 8]]}]}
        """#)
        let model = try Model(spec: spec, seed: 11)
        let windows = try #require(TileWindows.analyse(model.graph))
        func window(_ name: String) -> NodeWindows { windows[model.graph.nodes.firstIndex { $0.name == name }!]! }
        // The crop keeps c3's rows 7..<23, which read a1's 7..<27, which read cat's 6..<28;
        // upsampling is computed whole, and so is everything before it.
        #expect([window("c3").output.rows, window("a1").output.rows, window("cat").output.rows] == [7..<23, 7..<27, 6..<28])
        #expect(window("up").output.rows == 0..<36 && window("c1").output.rows == 0..<36)
        let x = tensor([6, 36, 36, 3], seed: 8, range: -1...1)
        let expected = try model.predict(x)
        for threads in [1, 2] {
            let y = try InferencePlan(model).predict(x, pool: .shared(threads: threads))
            #expect(y.shape == expected.shape && worstError(y, expected) <= 1e-5, "\(threads) threads: \(worstError(y, expected))")
        }
    }

    /// Transposed convolutions whose kernel is their stride (each output reads one tap of one input
    /// pixel), 'same' and 'valid', on tile windows that start inside a tap's period, with a ragged
    /// channel count and a narrow sigmoid output run after the kernel.
    @Test func nonOverlappingTransposedConvolutionsOnWindows() throws {
        let spec = try spec(#"""
        {"input": {"name": "in", "shape": [36, 36, 3]}, "layers": [
          {"name": "down", "type": "Conv2D", "filters": 20, "kernel_size": 3, "strides": 3, "padding": "same", "activation": "relu"},
          {"name": "up3", "type": "Conv2DTranspose", "filters": 20, "kernel_size": 3, "strides": 3, "padding": "same", "activation": "relu"},
          {"name": "pool", "type": "MaxPooling2D"},
          {"name": "up2", "type": "Conv2DTranspose", "filters": 3, "kernel_size": 2, "strides": 2, "padding": "valid", "activation": "sigmoid"},
          {"name": "crop", "type": "Cropping2D", "cropping": 11}]}
        """#)
        let model = try Model(spec: spec, seed: 13)
        let x = tensor([5, 36, 36, 3], seed: 14, range: -1...1)
        let expected = try model.predict(x)
        let y = try InferencePlan(model).predict(x, pool: .shared(threads: 2))
        #expect(y.shape == expected.shape && worstError(y, expected) <= 1e-5, "worst error \(worstError(y, expected))")
    }

    @Test func poolRunsEveryPartOnceAcrossCalls() {
        let pool = WorkerPool.shared(threads: 4)
        for parts in [1, 2, 7, 100] {
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: parts)
            hits.initialize(repeating: 0)
            defer { hits.deallocate() }
            let shared = UncheckedSendable(hits)
            pool.run(parts: parts) { shared.value[$0] += 1 }
            #expect(hits.allSatisfy { $0 == 1 }, "\(parts) parts")
        }
    }
}
