// .npy and safetensors round trips, initializers and the training-mode behaviour of Dropout.

import Foundation
import Testing
@testable import ConvCore

@Suite struct TensorIOTests {
    @Test(arguments: [[2, 3, 4, 5], [7], [], [3, 0, 2]])
    func npyRoundTrip(_ shape: [Int]) throws {
        let t = tensor(shape, seed: 11, range: -5...5)
        let data = NPY.encode(t)
        #expect(data.count % 64 == t.count * 4 % 64)
        #expect(try NPY.decode(data) == t)
    }

    @Test func npyRejectsOtherDtypesAndLayouts() throws {
        var data = NPY.encode(tensor([2, 2], seed: 1))
        let descr = try #require(data.firstRange(of: Data("'<f4'".utf8)))
        var f8 = data
        f8.replaceSubrange(descr, with: Data("'<f8'".utf8))
        #expect(errorMessage { _ = try NPY.decode(f8) }.contains("not float32"))
        data[0] = 0
        #expect(errorMessage { _ = try NPY.decode(data) }.contains("not a .npy file"))
        // A hostile shape whose element count overflows is refused, not a crash.
        var huge = NPY.encode(tensor([2, 2], seed: 1))
        huge.replaceSubrange(try #require(huge.firstRange(of: Data("(2, 2)".utf8))), with: Data("(1099511627775, 1099511627775)".utf8))
        #expect(errorMessage { _ = try NPY.decode(huge) }.contains("larger than the file"))
        let truncated = NPY.encode(tensor([4, 4], seed: 1)).dropLast(4)
        #expect(errorMessage { _ = try NPY.decode(Data(truncated)) }.contains("needs 64 bytes"))
    }

    @Test func safetensorsRoundTripKeepsOrderAndMetadata() throws {
        let tensors = [("b", tensor([3, 2], seed: 1)), ("a", tensor([5], seed: 2)), ("empty", Tensor(zeros: [0, 3]))]
        let data = Safetensors.encode(tensors, metadata: ["k": "v \"quoted\"\n"])
        let back = try Safetensors.decode(data)
        #expect(back.metadata == ["k": "v \"quoted\"\n"])
        for (name, t) in tensors { #expect(back.tensors[name] == t) }
    }

    @Test func glorotUniformIsSeededAndBounded() throws {
        let s = try singleLayer(#"{"name": "c", "type": "Conv2D", "filters": 16, "kernel_size": 3}"#, input: "[8, 8, 3]")
        let a = try Model(spec: s, seed: 1), b = try Model(spec: s, seed: 1), c = try Model(spec: s, seed: 2)
        #expect(a.weights[0].tensor == b.weights[0].tensor)
        #expect(a.weights[0].tensor != c.weights[0].tensor)
        let limit = (6.0 / Float(27 + 144)).squareRoot()
        let k = a.weights[0].tensor.scalars
        #expect(k.allSatisfy { abs($0) <= limit })
        #expect(k.max()! > 0.9 * limit && k.min()! < -0.9 * limit)
        #expect(a.weights[1].tensor.scalars.allSatisfy { $0 == 0 })
        let bn = try Model(spec: try singleLayer(#"{"name": "bn", "type": "BatchNormalization"}"#, input: "[8, 8, 3]"))
        #expect(bn.weights.map(\.name) == ["bn.gamma", "bn.beta", "bn.moving_mean", "bn.moving_variance"])
        #expect(bn.weights.map { $0.tensor.scalars[0] } == [1, 0, 0, 1])
    }

    @Test func dropoutInvertsInTrainingOnly() throws {
        var model = try Model(spec: try singleLayer(#"{"name": "d", "type": "Dropout", "rate": 0.25}"#, input: "[100, 100, 1]"))
        let ones = Tensor(repeating: 1, shape: [1, 100, 100, 1])
        #expect(try model.predict(ones) == ones)
        var g1 = SeededGenerator(seed: 5), g2 = SeededGenerator(seed: 5)
        let y1 = try model.forwardTraining([ones], generator: &g1)[0]
        let y2 = try model.forwardTraining([ones], generator: &g2)[0]
        #expect(y1 == y2)
        let dropped = y1.scalars.filter { $0 == 0 }.count
        #expect(abs(Double(dropped) / 10_000 - 0.25) < 0.02)
        #expect(y1.scalars.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
        let y3 = try model.forwardTraining([ones], generator: &g1)[0]
        #expect(y3 != y1)
    }
}
