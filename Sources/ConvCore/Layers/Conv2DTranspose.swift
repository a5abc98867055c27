// Conv2DTranspose: each input pixel scatters kernel[ky, kx, :, :] (Keras layout [kh, kw, cout, cin])
// times its channels onto output (iy*s + ky, ix*s + kx) of the full (i-1)*s + k grid, which is then
// cropped as Keras does: 'valid' keeps (i-1)*s + max(k, s), 'same' keeps i*s starting at
// k-1-min(ceil((s+k-2)/2), k-1).

struct Conv2DTranspose: Layer {
    static let typeName = "Conv2DTranspose"
    let name: String
    let filters: Int
    let kernel: (Int, Int)
    let strides: (Int, Int)
    let padding: Padding
    let activation: Activation
    let useBias: Bool
    let kernelInitializer: Initializer
    let biasInitializer: Initializer
    /// On a tile window (`windowed`): the input window it reads and the output window it computes; nil on whole maps.
    private(set) var window: (input: TileWindow, output: TileWindow)?

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

    func outputSize(_ i: Int, kernel k: Int, stride s: Int) -> Int {
        padding == .valid ? (i - 1) * s + max(k, s) : i * s
    }

    /// How many leading pixels of the full scatter grid the output drops.
    func cropStart(kernel k: Int, stride s: Int) -> Int {
        padding == .valid ? 0 : k - 1 - min((s + k - 1) / 2, k - 1)
    }

    /// How many leading pixels of the scatter grid of `x` the output drops, per axis: the crop,
    /// shifted when `x` holds `window.input` of the input and the output is `window.output`.
    func scatterCrop(_ window: (input: TileWindow, output: TileWindow)?) -> (top: Int, left: Int) {
        let top = cropStart(kernel: kernel.0, stride: strides.0), left = cropStart(kernel: kernel.1, stride: strides.1)
        guard let window else { return (top, left) }
        return (top + window.output.rows.lowerBound - window.input.rows.lowerBound * strides.0,
                left + window.output.cols.lowerBound - window.input.cols.lowerBound * strides.1)
    }

    var convolution: ConvolutionFusion? {
        ConvolutionFusion(activation: activation, filters: filters, useBias: useBias, outputChannelAxis: 2) { kernel, bias, epilogue in
            .transposedConvolution(TransposedConvolution(self, kernel: kernel, bias: bias), epilogue)
        }
    }

    /// The input pixels first ... last that land on outputs `lower ... upper` along `axis` (none
    /// when first > last): input pixel i lands on outputs i * s - crop ..< i * s - crop + k.
    private func landing(_ lower: Int, _ upper: Int, _ axis: Axis) -> (first: Int, last: Int) {
        let (k, s) = axis == .rows ? (kernel.0, strides.0) : (kernel.1, strides.1)
        let crop = cropStart(kernel: k, stride: s)
        return (floorDivide(lower + crop - k + s, s), floorDivide(upper + crop, s))
    }

    func reach(_ output: ClosedRange<Int>, axis: Axis, input: Dims) -> Reach {
        let (first, last) = landing(output.lowerBound, output.upperBound, axis)
        return first <= last ? .positions(first...last) : .nothing
    }

    func gridStep(_ axis: Axis) -> GridStep { GridStep(inputPixels: 1, outputPixels: axis == .rows ? strides.0 : strides.1) }

    func windowed(_ output: TileWindow, inputs: [Dims]) -> WindowedForward? {
        func axis(_ a: Axis) -> Range<Int> {
            let r = output.range(a), size = inputs[0][a.rawValue]!
            let (reached, end) = landing(r.lowerBound, r.upperBound - 1, a)
            let (first, last) = (max(0, reached), min(size - 1, end))
            return first <= last ? first..<(last + 1) : first..<first
        }
        let have = TileWindow(rows: axis(.rows), cols: axis(.columns))
        var placed = self
        placed.window = (have, output)
        return WindowedForward(inputs: [have], layer: placed)
    }

    func multiplyAdds(input: [Int], output: [Int]) -> Int { input[0] * input[1] * kernel.0 * kernel.1 * input[2] * output[2] }

    func outputShape(_ inputs: [Dims]) throws -> Dims {
        let (h, w, _) = try image(inputs)
        return [h.map { outputSize($0, kernel: kernel.0, stride: strides.0) },
                w.map { outputSize($0, kernel: kernel.1, stride: strides.1) }, filters]
    }

    func parameters(_ inputs: [Dims]) throws -> [ParameterSpec] {
        let cin = try known(try image(inputs).c, "input channel count")
        var p = [ParameterSpec(name: "kernel", shape: [kernel.0, kernel.1, filters, cin],
                               initializer: kernelInitializer, trainable: true)]
        if useBias { p.append(ParameterSpec(name: "bias", shape: [filters], initializer: biasInitializer, trainable: true)) }
        return p
    }

    func forward(_ inputs: [Tensor], _ parameters: [Tensor], _ context: inout ForwardContext) throws -> Tensor {
        TransposedConvolution(self, kernel: parameters[0], bias: useBias ? parameters[1].scalars : nil)
            .run(inputs[0], epilogue: Epilogue(activation: activation), window: window)
    }

    func backward(_ inputs: [Tensor], _ parameters: [Tensor], output: Tensor, gradient: Tensor,
                  saved: Tensor?, training: Bool) -> LayerGradients {
        let x = inputs[0]
        let (n, h, w, cin) = x.nhwc
        let dz = activation.backward(output: output, gradient: gradient)
        var dx = Tensor(zeros: x.shape), dk = Tensor(zeros: parameters[0].shape)
        let (kh, kw) = kernel, (sh, sw) = strides, crop = scatterCrop(window)
        let geometry = ScatterGeometry(n: n, h: h, w: w, cin: cin, oh: output.shape[1], ow: output.shape[2], kh: kh, kw: kw, sh: sh, sw: sw,
                                       top: crop.top, left: crop.left, coutPadded: filters)
        conv2dTransposeBackward(dx: &dx.scalars, dk: &dk.scalars, x: x.scalars, kernel: parameters[0].scalars, dz: dz.scalars, geometry)
        return LayerGradients(inputs: [dx], parameters: useBias ? [dk, biasGradient(dz)] : [dk])
    }
}
