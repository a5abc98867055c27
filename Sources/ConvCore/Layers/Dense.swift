// Dense acts on the last axis only (Keras): on an image it is a per-pixel 1x1 convolution, after
// Flatten a classic fully connected layer. Kernel [in, out], bias [out].

struct Dense: Layer {
    static let typeName = "Dense"
    let name: String
    let units: Int
    let activation: Activation
    let useBias: Bool
    let kernelInitializer: Initializer
    let biasInitializer: Initializer

    init(name: String, arguments a: inout LayerArguments) throws {
        self.name = name
        units = try a.int("units")
        guard units >= 1 else { throw a.error("'units' must be positive") }
        activation = try a.activation()
        useBias = try a.bool("use_bias", default: true)
        kernelInitializer = try a.initializer("kernel_initializer", default: .glorotUniform)
        biasInitializer = try a.initializer("bias_initializer", default: .zeros)
    }

    /// On an image a Dense acts on each pixel's channels alone.
    func reach(_ output: ClosedRange<Int>, axis: Axis, input: Dims) -> Reach {
        input.count == 3 ? .positions(output) : .everything
    }

    func windowed(_ output: TileWindow, inputs: [Dims]) -> WindowedForward? {
        inputs[0].count == 3 ? WindowedForward(inputs: [output], layer: self) : nil
    }

    func multiplyAdds(input: [Int], output: [Int]) -> Int { output.reduce(1, *) * input.last! }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let d = try single(inputs)
        guard !d.isEmpty else { throw failure("needs an input with at least one axis") }
        return d.dropLast() + [units]
    }

    func parameters(_ inputs: [Dims]) throws -> [ParameterSpec] {
        let fanIn = try known(try single(inputs).last!, "last input axis")
        var p = [ParameterSpec(name: "kernel", shape: [fanIn, units], initializer: kernelInitializer, trainable: true)]
        if useBias { p.append(ParameterSpec(name: "bias", shape: [units], initializer: biasInitializer, trainable: true)) }
        return p
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        let x = inputs[0]
        let fanIn = x.shape.last!, rows = x.count / max(fanIn, 1)
        var y = Tensor(zeros: x.shape.dropLast() + [units])
        denseForward(out: &y.scalars, x: x.scalars, kernel: parameters[0].scalars, bias: useBias ? parameters[1].scalars : nil,
                     rows: rows, fanIn: fanIn, units: units)
        activation.apply(&y.scalars)
        return y
    }

    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let x = inputs[0]
        let fanIn = x.shape.last!, rows = x.count / max(fanIn, 1)
        let dz = activation.backward(output: output, gradient: gradient)
        var dx = Tensor(zeros: x.shape), dk = Tensor(zeros: parameters[0].shape)
        let k = parameters[0].scalars
        for r in 0..<rows {
            for i in 0..<fanIn {
                let v = x.scalars[r * fanIn + i]
                var s: Float = 0
                for u in 0..<units {
                    let d = dz.scalars[r * units + u]
                    s += k[i * units + u] * d
                    dk.scalars[i * units + u] += v * d
                }
                dx.scalars[r * fanIn + i] = s
            }
        }
        return LayerGradients(inputs: [dx], parameters: useBias ? [dk, biasGradient(dz)] : [dk])
    }
}

/// out[r, u] = bias[u] + sum over i of x[r, i] * kernel[i, u]; out [rows, units] starts at zero.
private func denseForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
                          bias: [Float]?, rows: Int, fanIn: Int, units: Int) {
    for r in 0..<rows {
        let o = out + r * units
        if let bias { for u in 0..<units { o[u] = bias[u] } }
        for i in 0..<fanIn {
            let v = x[r * fanIn + i], row = kernel + i * units
            for u in 0..<units { o[u] += v * row[u] }
        }
    }
}
