// Which forward kernel a packed Conv2D runs: Winograd's F(2x2, 3x3) where it does less work
// (WinogradConvolution.suits), the direct kernel everywhere else.

enum ConvolutionKernel: Sendable {
    case direct(DirectConvolution)
    case winograd(WinogradConvolution)

    init(kernel: Tensor, bias: [Float], strides: (Int, Int)) {
        if WinogradConvolution.suits(kernel: (kernel.shape[0], kernel.shape[1]), strides: strides, inputChannels: kernel.shape[2]) {
            self = .winograd(WinogradConvolution(kernel: kernel, bias: bias))
        } else {
            self = .direct(DirectConvolution(kernel: kernel, bias: bias))
        }
    }

    var outputChannels: Int {
        switch self {
        case .direct(let kernel): kernel.cout
        case .winograd(let kernel): kernel.cout
        }
    }

    func run(_ x: Tensor, geometry: KernelGeometry, epilogue: Epilogue) -> Tensor {
        switch self {
        case .direct(let kernel): kernel.run(x, geometry: geometry, epilogue: epilogue)
        case .winograd(let kernel): kernel.run(x, geometry: geometry, epilogue: epilogue)
        }
    }
}
