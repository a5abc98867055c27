// Layers that only change how the same scalars are addressed: Flatten and Reshape. Their
// gradient is the output's gradient seen with the input's shape.

protocol ReshapingLayer: Layer {}

extension ReshapingLayer {
    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        LayerGradients(inputs: [gradient.reshaped(inputs[0].shape)], parameters: [])
    }
}

struct Flatten: ReshapingLayer {
    static let typeName = "Flatten"
    let name: String

    init(name: String, arguments a: inout LayerArguments) throws { self.name = name }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let d = try single(inputs)
        guard d.allSatisfy({ $0 != nil }) else {
            throw failure("cannot flatten \(describe(d)): every size must be known (use global pooling for any-size inputs)")
        }
        return [d.reduce(1) { $0 * $1! }]
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let x = inputs[0]
        return x.reshaped([x.shape[0], x.count / max(x.shape[0], 1)])
    }

}

struct Reshape: ReshapingLayer {
    static let typeName = "Reshape"
    let name: String
    /// Per-sample target shape; at most one -1, inferred from the element count.
    let target: [Int]

    init(name: String, arguments a: inout LayerArguments) throws {
        self.name = name
        target = try a.intList("target_shape")
        guard !target.isEmpty, target.allSatisfy({ $0 >= 1 || $0 == -1 }), target.filter({ $0 == -1 }).count <= 1 else {
            throw a.error("'target_shape' needs positive sizes and at most one -1, got \(target)")
        }
    }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let d = try single(inputs)
        let known = target.filter { $0 != -1 }.reduce(1, *)
        guard d.allSatisfy({ $0 != nil }) else {
            return target.map { $0 == -1 ? nil : $0 }
        }
        let total = d.reduce(1) { $0 * $1! }
        if target.contains(-1) {
            guard total % known == 0 else { throw failure("cannot reshape \(describe(d)) to \(target)") }
            return target.map { $0 == -1 ? total / known : $0 }
        }
        guard total == known else { throw failure("cannot reshape \(describe(d)) (\(total) values) to \(target)") }
        return target
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let n = x.shape[0], perSample = x.count / max(n, 1)
        let known = target.filter { $0 != -1 }.reduce(1, *)
        return x.reshaped([n] + target.map { $0 == -1 ? perSample / known : $0 })
    }
}
