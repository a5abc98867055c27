// Losses as Keras defines them, averaged over every element of the batch (Keras takes the mean
// over the last axis, then over the rest): MSE, MAE and Huber with delta 1.

/// The losses of the Keras vocabulary: mean squared error, mean absolute error, Huber (delta 1).
public enum Loss: String, CaseIterable, Codable, Sendable {
    case mse, mae, huber

    static let huberDelta: Double = 1

    /// The loss and its gradient with respect to the prediction.
    public func evaluate(prediction: Tensor, target: Tensor) throws -> (value: Float, gradient: Tensor) {
        guard prediction.shape == target.shape else {
            throw ModelError("loss: prediction \(prediction.shape) and target \(target.shape) differ in shape")
        }
        let n = Double(max(prediction.count, 1))
        var total = 0.0
        var gradient = Tensor(zeros: prediction.shape)
        for i in prediction.scalars.indices {
            let e = Double(prediction.scalars[i]) - Double(target.scalars[i])
            let d: Double
            switch self {
            case .mse:
                total += e * e
                d = 2 * e
            case .mae:
                total += abs(e)
                d = e > 0 ? 1 : e < 0 ? -1 : 0
            case .huber:
                let a = abs(e), delta = Self.huberDelta
                total += a <= delta ? 0.5 * e * e : delta * (a - 0.5 * delta)
                d = a <= delta ? e : delta * (e > 0 ? 1 : -1)
            }
            gradient.scalars[i] = Float(d / n)
        }
        return (Float(total / n), gradient)
    }
}
