// Element-wise activations, by their Keras names. Used as a layer (`Activation`) and fused into
// Conv2D, Conv2DTranspose and Dense through their `activation` argument.

import Foundation

/// The activations of the Keras vocabulary, by their Keras names.
public enum Activation: String, CaseIterable, Sendable {
    case linear, relu, sigmoid, tanh, softplus
    /// Keras 3's default negative slope.
    case leakyReLU = "leaky_relu"

    static let leakySlope: Float = 0.2

    func apply(_ x: Float) -> Float {
        switch self {
        case .linear: return x
        case .relu: return max(x, 0)
        case .leakyReLU: return x >= 0 ? x : Activation.leakySlope * x
        case .sigmoid: return 1 / (1 + expf(-x))
        case .tanh: return tanhf(x)
        // log(1 + e^x) without overflow for large x or loss of precision for very negative x.
        case .softplus: return max(x, 0) + log1pf(expf(-abs(x)))
        }
    }

    /// The derivative written in terms of the output, which the backward pass has at hand.
    func derivative(output y: Float) -> Float {
        switch self {
        case .linear: return 1
        case .relu: return y > 0 ? 1 : 0
        case .leakyReLU: return y >= 0 ? 1 : Activation.leakySlope
        case .sigmoid: return y * (1 - y)
        case .tanh: return 1 - y * y
        // softplus' = sigmoid(x) = 1 - e^-y.
        case .softplus: return -expm1f(-y)
        }
    }

    /// The gradient before the activation from the gradient after it.
    func backward(output: Tensor, gradient: Tensor) -> Tensor {
        if self == .linear { return gradient }
        var g = gradient
        g.scalars.withUnsafeMutableBufferPointer { g in
            output.scalars.withUnsafeBufferPointer { y in
                let (g, y, n) = (g.baseAddress!, y.baseAddress!, g.count)
                var i = 0
                // ReLU, the common case, sixteen lanes at a time: the gradient where the output is positive.
                if self == .relu {
                    while i + 16 <= n {
                        store16(load16(g + i).replacing(with: 0, where: load16(y + i) .<= 0), g + i)
                        i += 16
                    }
                }
                while i < n {
                    g[i] *= derivative(output: y[i])
                    i += 1
                }
            }
        }
        return g
    }

    func apply(_ values: inout [Float]) {
        if self == .linear { return }
        values.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = apply(p[i]) }
        }
    }
}

struct ActivationLayer: PerPixelLayer {
    static let typeName = "Activation"
    let name: String
    let activation: Activation

    init(name: String, arguments a: inout LayerArguments) throws {
        self.name = name
        activation = try a.activation()
    }

    func outputShape(_ inputs: [Dims]) throws -> Dims { try single(inputs) }

    var activationOnly: Activation? { activation }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        var y = inputs[0]
        activation.apply(&y.scalars)
        return y
    }

    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        LayerGradients(inputs: [activation.backward(output: output, gradient: gradient)], parameters: [])
    }
}
