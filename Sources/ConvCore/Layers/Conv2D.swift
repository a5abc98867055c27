// Conv2D: NHWC input, kernel [kh, kw, cin, cout] (Keras layout), optional bias, fused activation.
// Output size floor((i + pad - k) / s) + 1 with TensorFlow 'same' padding (see Padding.swift).

struct Conv2D: SlidingWindowLayer {
    static let typeName = "Conv2D"
    let name: String
    let filters: Int
    let kernel: (Int, Int)
    let strides: (Int, Int)
    let padding: Padding
    let activation: Activation
    let useBias: Bool
    let kernelInitializer: Initializer
    let biasInitializer: Initializer
    /// On a tile window (`windowed`): where the kernel reads on the input window; nil on whole maps.
    private(set) var window: KernelGeometry?

    init(name: String, arguments a: inout LayerArguments) throws {
        self.name = name
        filters = try a.int("filters")
        guard filters >= 1 else { throw a.error("'filters' must be positive") }
        kernel = try a.positivePair("kernel_size")
        strides = try a.positivePair("strides", default: (1, 1))
        padding = try a.padding()
        activation = try a.activation()
        useBias = try a.bool("use_bias", default: true)
        kernelInitializer = try a.initializer("kernel_initializer", default: .glorotUniform)
        biasInitializer = try a.initializer("bias_initializer", default: .zeros)
    }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let (h, w, _) = try image(inputs)
        return [try windowOutput(h, kernel: kernel.0, stride: strides.0, padding: padding, axis: "height"),
                try windowOutput(w, kernel: kernel.1, stride: strides.1, padding: padding, axis: "width"),
                filters]
    }

    func parameters(_ inputs: [Dims]) throws -> [ParameterSpec] {
        let cin = try known(try image(inputs).c, "input channel count")
        var p = [ParameterSpec(name: "kernel", shape: [kernel.0, kernel.1, cin, filters],
                               initializer: kernelInitializer, trainable: true)]
        if useBias { p.append(ParameterSpec(name: "bias", shape: [filters], initializer: biasInitializer, trainable: true)) }
        return p
    }

    var convolution: ConvolutionFusion? {
        ConvolutionFusion(activation: activation, filters: filters, useBias: useBias, outputChannelAxis: 3) { kernel, bias, epilogue in
            .convolution(self, ConvolutionKernel(kernel: kernel, bias: bias, strides: strides), epilogue)
        }
    }

    var kernelSize: (Int, Int) { kernel }

    /// Reads only the input its output window needs; the zero padding it reaches into comes from
    /// the geometry (`geometry(reading:for:input:)`), which the variant that runs on the window keeps.
    func windowed(_ output: TileWindow, inputs: [Dims]) -> WindowedForward? {
        guard let have = inputWindow(output, input: inputs[0], inside: false) else { return nil }
        var placed = self
        placed.window = geometry(reading: have, for: output, input: inputs[0])
        return WindowedForward(inputs: [have], layer: placed)
    }

    /// Where the kernel reads on `x`: the whole map, or the window this variant was placed on.
    private func geometry(_ x: Tensor) -> KernelGeometry {
        let (_, h, w, _) = x.nhwc
        return window ?? KernelGeometry(inH: h, inW: w, kernel: kernel, strides: strides, padding: padding)
    }

    /// Where the kernel reads when `output` of the output map is computed from the input window
    /// `have` of an input of per-sample dims `input` (negative padding skips input rows).
    func geometry(reading have: TileWindow, for output: TileWindow, input: Dims) -> KernelGeometry {
        let full = KernelGeometry(inH: input[0]!, inW: input[1]!, kernel: kernel, strides: strides, padding: padding)
        return KernelGeometry(inH: have.rows.count, inW: have.cols.count, outH: output.rows.count, outW: output.cols.count,
                              kernel: kernel, strides: strides,
                              padTop: have.rows.lowerBound - (output.rows.lowerBound * strides.0 - full.padTop),
                              padLeft: have.cols.lowerBound - (output.cols.lowerBound * strides.1 - full.padLeft))
    }

    func multiplyAdds(input: [Int], output: [Int]) -> Int { output[0] * output[1] * kernel.0 * kernel.1 * input[2] * output[2] }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        DirectConvolution(kernel: parameters[0], bias: useBias ? parameters[1].scalars : nil)
            .run(inputs[0], geometry: geometry(inputs[0]), activation: activation)
    }

    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let x = inputs[0], g = geometry(x)
        let dz = activation.backward(output: output, gradient: gradient)
        let dx = strides == (1, 1) ? conv2dInputGradientStrideOne(dz, kernel: parameters[0], geometry: g)
                                   : conv2dInputGradient(dz, kernel: parameters[0], geometry: g, inputShape: x.shape)
        return LayerGradients(inputs: [dx], parameters: kernelAndBiasGradients(x, dz))
    }

    func parameterGradients(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor) -> [Tensor]? {
        kernelAndBiasGradients(inputs[0], activation.backward(output: output, gradient: gradient))
    }

    /// dK and db from the input and the gradient before the activation.
    private func kernelAndBiasGradients(_ x: Tensor, _ dz: Tensor) -> [Tensor] {
        let dk = conv2dWeightGradient(x, dz, geometry: geometry(x))
        return useBias ? [dk, biasGradient(dz)] : [dk]
    }
}
