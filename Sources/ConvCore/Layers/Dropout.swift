// Dropout: identity at inference; in training, inverted dropout as Keras does (keep with
// probability 1 - rate, scale kept values by 1 / (1 - rate)), masks from the
// pass's seeded generator (the trainer seeds it), so a run is reproducible.

struct Dropout: PerPixelLayer {
    static let typeName = "Dropout"
    let name: String
    let rate: Float

    init(name: String, arguments a: inout LayerArguments) throws {
        self.name = name
        rate = Float(try a.double("rate", default: 0))
        guard rate >= 0, rate < 1 else { throw a.error("'rate' must be in [0, 1), got \(rate)") }
    }

    func outputShape(_ inputs: [Dims]) throws -> Dims { try single(inputs) }

    var isIdentityAtInference: Bool { true }
    /// The mask is drawn position by position over the whole map, so a window would draw others.
    var trainsOnWholeMaps: Bool { true }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        var y = inputs[0]
        guard context.training, rate > 0 else { return y }
        let keepScale = 1 / (1 - rate)
        var mask = Tensor(zeros: y.shape)
        for i in y.scalars.indices where context.generator.nextUnitFloat() >= rate { mask.scalars[i] = keepScale }
        for i in y.scalars.indices { y.scalars[i] *= mask.scalars[i] }
        context.saved = mask
        return y
    }

    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        guard let mask = saved else { return LayerGradients(inputs: [gradient], parameters: []) }
        var dx = gradient
        for i in dx.scalars.indices { dx.scalars[i] *= mask.scalars[i] }
        return LayerGradients(inputs: [dx], parameters: [])
    }
}
