// BatchNormalization over the last axis (Keras defaults: momentum 0.99, epsilon 0.001, center and
// scale on). Inference uses the moving statistics; training uses the batch's mean and biased
// variance and moves the statistics: moving = moving * momentum + batch * (1 - momentum).

import Foundation

struct BatchNormalization: PerPixelLayer {
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

    var usesBatchStatistics: Bool { true }

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
            let batch = batchStatistics(y, share: context.share)
            (mean, variance) = (batch.mean, batch.variance)
            // The backward pass needs the whole batch's statistics and size, not the share's.
            context.saved = Tensor(shape: [2 * c + 1], scalars: mean + variance + [Float(batch.rows)])
            context.updatedParameters[p.meanIndex] = Tensor(
                shape: [c], scalars: (0..<c).map { p.mean.scalars[$0] * momentum + mean[$0] * (1 - momentum) })
            context.updatedParameters[p.meanIndex + 1] = Tensor(
                shape: [c], scalars: (0..<c).map { p.variance.scalars[$0] * momentum + variance[$0] * (1 - momentum) })
        }
        let (a, b) = affine(gamma: p.gamma, beta: p.beta, mean: mean, variance: variance)
        y.scalars.withUnsafeMutableBufferPointer { yp in
            for r in 0..<rows { for ch in 0..<c { yp[r * c + ch] = yp[r * c + ch] * a[ch] + b[ch] } }
        }
        return y
    }

    /// y = x * a + b with a = gamma / sqrt(var + eps), b = beta - mean * a.
    private func affine(gamma: [Float], beta: [Float], mean: [Float], variance: [Float]) -> (scale: [Float], shift: [Float]) {
        let a = gamma.indices.map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
        return (a, beta.indices.map { beta[$0] - mean[$0] * a[$0] })
    }

    /// The inference transform (moving statistics) as a per-channel scale and shift, for folding
    /// into a neighbouring convolution.
    func inferenceAffine(_ parameters: [Tensor], channels c: Int) -> (scale: [Float], shift: [Float])? {
        let p = unpack(parameters, channels: c)
        return affine(gamma: p.gamma, beta: p.beta, mean: p.mean.scalars, variance: p.variance.scalars)
    }

    /// Mean and biased variance of each channel over every other axis, and the number of rows
    /// they are over; with `share`, over every share of the batch.
    private func batchStatistics(_ x: Tensor, share: ShareSlot?) -> (mean: [Float], variance: [Float], rows: Double) {
        let c = x.shape.last!, rows = x.count / max(c, 1)
        var sums = [Double](repeating: 0, count: 2 * c + 1) // sum, sum of squares, rows
        // Through buffer pointers: shares on several threads must not retain and release the
        // arrays per element (their shared reference counts bounce between cores).
        x.scalars.withUnsafeBufferPointer { xp in
            sums.withUnsafeMutableBufferPointer { sp in
                for r in 0..<rows {
                    for ch in 0..<c { let v = Double(xp[r * c + ch]); sp[ch] += v; sp[c + ch] += v * v }
                }
            }
        }
        sums[2 * c] = Double(rows)
        if let share { sums = share.sum(sums) }
        let count = max(sums[2 * c], 1)
        let mean = (0..<c).map { sums[$0] / count }
        return (mean.map(Float.init), (0..<c).map { Float(max(sums[c + $0] / count - mean[$0] * mean[$0], 0)) }, sums[2 * c])
    }

    /// In training mode the batch statistics depend on every input, which adds the two mean terms
    /// of dx = inv_std / N * (N * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)).
    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        backward(inputs, parameters, output: output, gradient: gradient, saved: saved, training: training, share: nil)
    }

    /// A share of a split batch: its loss is the mean over its own n of the batch's N samples, so
    /// the gradient it sees is N/n times the batch loss's. The two sums are the batch's (each
    /// share's weighted by n/N, added through `share`), and the mean terms are scaled back by N/n.
    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool, share: ShareSlot?) -> LayerGradients {
        let x = inputs[0]
        let c = x.shape.last!, rows = x.count / max(c, 1)
        let p = unpack(parameters, channels: c)
        var (mean, variance, batchRows) = (p.mean.scalars, p.variance.scalars, Double(rows))
        if training {
            if let saved, saved.count == 2 * c + 1 {
                (mean, variance, batchRows) = (Array(saved.scalars[0..<c]), Array(saved.scalars[c..<(2 * c)]), Double(saved.scalars[2 * c]))
            } else {
                (mean, variance, batchRows) = batchStatistics(x, share: share)
            }
        }
        let invStd = variance.map { 1 / ($0 + epsilon).squareRoot() }
        let gamma = p.gamma
        var dGamma = [Double](repeating: 0, count: c), dBeta = [Double](repeating: 0, count: c)
        var dx = [Float](repeating: 0, count: x.count)
        // Through buffer pointers, as in batchStatistics.
        x.scalars.withUnsafeBufferPointer { xp in
            gradient.scalars.withUnsafeBufferPointer { gp in
                for r in 0..<rows {
                    for ch in 0..<c {
                        let d = Double(gp[r * c + ch])
                        dGamma[ch] += d * Double((xp[r * c + ch] - mean[ch]) * invStd[ch])
                        dBeta[ch] += d
                    }
                }
            }
        }
        var (batchGamma, batchBeta) = (dGamma, dBeta)
        if training, let share {
            let weight = Double(rows) / batchRows
            let sums = share.sum((dGamma + dBeta).map { $0 * weight })
            (batchGamma, batchBeta) = (Array(sums[0..<c]), Array(sums[c...]))
        }
        let scaleBack: Float = share == nil ? 1 : Float(batchRows / Double(rows))
        let count = Float(max(batchRows, 1))
        x.scalars.withUnsafeBufferPointer { xp in
            gradient.scalars.withUnsafeBufferPointer { gp in
                dx.withUnsafeMutableBufferPointer { dp in
                    for r in 0..<rows {
                        for ch in 0..<c {
                            let dxhat = gp[r * c + ch] * gamma[ch]
                            if training {
                                let xhat = (xp[r * c + ch] - mean[ch]) * invStd[ch]
                                // sum(dxhat) = gamma * dBeta, sum(dxhat * xhat) = gamma * dGamma.
                                let meanTerm = gamma[ch] * Float(batchBeta[ch]) / count
                                let varTerm = xhat * gamma[ch] * Float(batchGamma[ch]) / count
                                dp[r * c + ch] = invStd[ch] * (dxhat - scaleBack * meanTerm - scaleBack * varTerm)
                            } else {
                                dp[r * c + ch] = dxhat * invStd[ch]
                            }
                        }
                    }
                }
            }
        }
        var grads: [Tensor] = []
        if scale { grads.append(Tensor(shape: [c], scalars: dGamma.map(Float.init))) }
        if center { grads.append(Tensor(shape: [c], scalars: dBeta.map(Float.init))) }
        grads += [Tensor(zeros: [c]), Tensor(zeros: [c])]
        return LayerGradients(inputs: [Tensor(shape: x.shape, scalars: dx)], parameters: grads)
    }
}
