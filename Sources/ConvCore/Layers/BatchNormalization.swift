// BatchNormalization over the last axis (Keras defaults: momentum 0.99, epsilon 0.001, center and
// scale on). Inference uses the moving statistics; training uses the batch's mean and biased
// variance and moves the statistics: moving = moving * momentum + batch * (1 - momentum).

import Foundation

struct BatchNormalization: Layer {
    static let typeName = "BatchNormalization"
    let name: String
    let momentum: Float
    let epsilon: Float
    let center: Bool
    let scale: Bool

    init(name: String, arguments a: inout LayerArguments) throws {
        self.name = name
        let axis = try a.int("axis", default: -1)
        guard axis == -1 else { throw a.error("only axis -1 (channels last) is supported, got \(axis)") }
        momentum = Float(try a.double("momentum", default: 0.99))
        epsilon = Float(try a.double("epsilon", default: 0.001))
        guard epsilon > 0 else { throw a.error("'epsilon' must be positive") }
        center = try a.bool("center", default: true)
        scale = try a.bool("scale", default: true)
    }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let d = try single(inputs)
        guard !d.isEmpty else { throw failure("needs an input with a channel axis") }
        return d
    }

    func parameters(_ inputs: [Dims]) throws -> [ParameterSpec] {
        let c = try known(try single(inputs).last!, "channel count")
        var p: [ParameterSpec] = []
        if scale { p.append(ParameterSpec(name: "gamma", shape: [c], initializer: .ones, trainable: true)) }
        if center { p.append(ParameterSpec(name: "beta", shape: [c], initializer: .zeros, trainable: true)) }
        p.append(ParameterSpec(name: "moving_mean", shape: [c], initializer: .zeros, trainable: false))
        p.append(ParameterSpec(name: "moving_variance", shape: [c], initializer: .ones, trainable: false))
        return p
    }

    /// gamma, beta, moving mean and variance, with the optional ones filled in.
    private func unpack(_ p: [Tensor], channels c: Int) -> (gamma: [Float], beta: [Float], mean: Tensor, variance: Tensor, meanIndex: Int) {
        var i = 0
        let gamma = scale ? p[i].scalars : [Float](repeating: 1, count: c)
        if scale { i += 1 }
        let beta = center ? p[i].scalars : [Float](repeating: 0, count: c)
        if center { i += 1 }
        return (gamma, beta, p[i], p[i + 1], i)
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        var y = inputs[0]
        let c = y.shape.last!, rows = y.count / max(c, 1)
        let p = unpack(parameters, channels: c)
        var mean = p.mean.scalars, variance = p.variance.scalars
        if context.training {
            var sum = [Double](repeating: 0, count: c), sumSq = [Double](repeating: 0, count: c)
            for r in 0..<rows {
                for ch in 0..<c { let v = Double(y.scalars[r * c + ch]); sum[ch] += v; sumSq[ch] += v * v }
            }
            for ch in 0..<c {
                let m = sum[ch] / Double(max(rows, 1))
                mean[ch] = Float(m)
                variance[ch] = Float(max(sumSq[ch] / Double(max(rows, 1)) - m * m, 0))
            }
            context.updatedParameters[p.meanIndex] = Tensor(
                shape: [c], scalars: (0..<c).map { p.mean.scalars[$0] * momentum + mean[$0] * (1 - momentum) })
            context.updatedParameters[p.meanIndex + 1] = Tensor(
                shape: [c], scalars: (0..<c).map { p.variance.scalars[$0] * momentum + variance[$0] * (1 - momentum) })
        }
        // y = x * a + b with a = gamma / sqrt(var + eps), b = beta - mean * a.
        let a = (0..<c).map { p.gamma[$0] / (variance[$0] + epsilon).squareRoot() }
        let b = (0..<c).map { p.beta[$0] - mean[$0] * a[$0] }
        y.scalars.withUnsafeMutableBufferPointer { yp in
            for r in 0..<rows { for ch in 0..<c { yp[r * c + ch] = yp[r * c + ch] * a[ch] + b[ch] } }
        }
        return y
    }
}
