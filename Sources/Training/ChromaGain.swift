// A CbCr style trained with MSE predicts the conditional mean of the chroma, and on pairs it has
// not seen it can still overshoot: colour where a photo has little makes it look worse than
// leaving it grey. One gain g on the predicted chroma, fitted by least squares on the validation
// tiles (the error |g (p - 0.5) - (t - 0.5)|^2 is smallest at g = <p - .5, t - .5> / |p - .5|^2,
// clamped to [0, 1]), keeps the expected error at most the grey baseline's there. It is folded
// into the output layer's kernel and bias, so the model file runs as any other.

import ConvCore

enum ChromaGain {
    /// The least-squares gain of `predicted` chroma towards `target` chroma around neutral (0.5), in [0, 1].
    /// `weights`: one per tile (the first axis), nil: all equal.
    static func fit(predicted: Tensor, target: Tensor, weights: [Float]? = nil) -> Float {
        var cross = 0.0, power = 0.0
        let size = predicted.count / max(weights?.count ?? 1, 1)
        for (i, (p, t)) in zip(predicted.scalars, target.scalars).enumerated() {
            let (dp, dt) = (Double(p) - 0.5, Double(t) - 0.5), w = weights.map { Double($0[i / size]) } ?? 1
            cross += w * dp * dt
            power += w * dp * dp
        }
        return power > 0 ? Float(min(1, max(0, cross / power))) : 1
    }

    /// `model` with its output scaled to 0.5 + g (output - 0.5), through the last layer's kernel
    /// and bias, and the folded model's output on `inputs`; nil when the last layer is not linear
    /// in them (checked against `predicted`, the model's output on `inputs`).
    static func fold(_ gain: Float, into model: Model, predicted: Tensor, on inputs: Tensor,
                     pool: WorkerPool) throws -> (model: Model, predicted: Tensor)? {
        var weights = Dictionary(uniqueKeysWithValues: model.weights.map { ($0.name, $0.tensor) })
        guard let kernel = model.weights.last(where: { $0.name.hasSuffix(".kernel") })?.name else { return nil }
        let layer = String(kernel.dropLast(".kernel".count))
        guard let k = weights[kernel], let b = weights["\(layer).bias"] else { return nil }
        weights[kernel] = Tensor(shape: k.shape, scalars: k.scalars.map { $0 * gain })
        weights["\(layer).bias"] = Tensor(shape: b.shape, scalars: b.scalars.map { gain * $0 + 0.5 * (1 - gain) })
        let folded = try Model(spec: model.spec, weights: weights)
        let after = try InferencePlan(folded).predict(inputs, pool: pool)
        guard predicted.shape == after.shape,
              zip(predicted.scalars, after.scalars).allSatisfy({ abs(0.5 + gain * ($0 - 0.5) - $1) <= 1e-4 }) else { return nil }
        return (folded, after)
    }
}
