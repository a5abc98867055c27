// Keras initializers for new weights, drawn from a seeded generator so a seed gives the same model.

enum Initializer: String, CaseIterable, Sendable {
    case glorotUniform = "glorot_uniform"
    case zeros, ones

    /// Keras fans: the kernel's last two axes are (in, out), earlier axes are the receptive field.
    func values(shape: [Int], generator: inout SeededGenerator) -> Tensor {
        switch self {
        case .zeros: return Tensor(zeros: shape)
        case .ones: return Tensor(repeating: 1, shape: shape)
        case .glorotUniform:
            let receptive = shape.dropLast(2).reduce(1, *)
            let fanIn = shape.count >= 2 ? shape[shape.count - 2] * receptive : shape.first ?? 1
            let fanOut = shape.count >= 2 ? shape[shape.count - 1] * receptive : shape.first ?? 1
            let limit = (6 / Float(max(1, fanIn + fanOut))).squareRoot()
            let n = shape.reduce(1, *)
            var s = [Float](repeating: 0, count: n)
            for i in 0..<n { s[i] = (generator.nextUnitFloat() * 2 - 1) * limit }
            return Tensor(shape: shape, scalars: s)
        }
    }
}
