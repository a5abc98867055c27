// The convolution epilogue's vector activations against the scalar definitions the layers use:
// e^x to a few float steps over its whole normal range, sigmoid and tanh to 1e-6 from -100 to 100.

import Foundation
import Testing
@testable import ConvCore

@Suite struct EpilogueTests {
    @Test func vectorExpFollowsExpf() {
        var worst: Float = 0
        for start in stride(from: Float(-87), to: 88, by: 0.0625) {
            let x = SIMD16<Float>((0..<16).map { start + Float($0) * 0.0039 })
            let e = exp16(x)
            for l in 0..<16 { worst = max(worst, abs(e[l] - expf(x[l])) / expf(x[l])) }
        }
        #expect(worst < 5e-7, "largest relative error \(worst)")
    }

    @Test(arguments: [Activation.sigmoid, .tanh, .softplus])
    func activationsMatchTheLayers(activation: Activation) {
        let prepared = Epilogue(activation: activation).prepared(channels: 16)
        var worst: Float = 0
        for start in stride(from: Float(-100), to: 100, by: 0.37) {
            let x = SIMD16<Float>((0..<16).map { start + Float($0) * 0.021 })
            var out = [Float](repeating: .nan, count: 16)
            out.withUnsafeMutableBufferPointer { prepared.store(x, group: 0, lanes: 16, to: $0.baseAddress!) }
            for l in 0..<16 { worst = max(worst, abs(out[l] - activation.apply(x[l]))) }
        }
        #expect(worst < 1e-6, "largest difference \(worst)")
    }
}
