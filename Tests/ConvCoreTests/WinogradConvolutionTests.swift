// Winograd's F(2x2, 3x3) and F(4x4, 3x3) against the direct kernel on the same weights: equal up
// to float rounding for any channel counts, output sizes that leave a ragged last block, 'valid'
// and 'same' padding, tile-window geometries that skip input, and every part of the epilogue.

import Testing
@testable import ConvCore

@Suite struct WinogradConvolutionTests {
    static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in (g.nextUnitFloat() * 2 - 1) * scale })
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let cin: Int, cout: Int, n: Int, h: Int, w: Int
        let geometry: KernelGeometry
        var testDescription: String { "\(cin)->\(cout), \(n)x\(h)x\(w), out \(geometry.outH)x\(geometry.outW), pad \(geometry.padTop),\(geometry.padLeft)" }
    }

    static let cases: [Case] = [
        Case(cin: 16, cout: 16, n: 2, h: 36, w: 36, geometry: KernelGeometry(inH: 36, inW: 36, kernel: (3, 3), strides: (1, 1), padding: .same)),
        Case(cin: 8, cout: 24, n: 1, h: 17, w: 13, geometry: KernelGeometry(inH: 17, inW: 13, kernel: (3, 3), strides: (1, 1), padding: .same)),
        Case(cin: 20, cout: 32, n: 1, h: 12, w: 9, geometry: KernelGeometry(inH: 12, inW: 9, kernel: (3, 3), strides: (1, 1), padding: .valid)),
        // A tile window: the output block reads from one row above the input window to past it.
        Case(cin: 32, cout: 3, n: 3, h: 10, w: 11,
             geometry: KernelGeometry(inH: 10, inW: 11, outH: 7, outW: 5, kernel: (3, 3), padTop: -1, padLeft: 2)),
    ]

    @Test(arguments: cases, WinogradBlock.allCases)
    func equalsTheDirectKernel(_ c: Case, _ block: WinogradBlock) {
        let x = Self.random([c.n, c.h, c.w, c.cin], seed: 1)
        let kernel = Self.random([3, 3, c.cin, c.cout], seed: 2, scale: 0.3), bias = Self.random([c.cout], seed: 3).scalars
        let epilogue = Epilogue(activation: .relu, affine: (Self.random([c.cout], seed: 4).scalars, Self.random([c.cout], seed: 5).scalars))
        let direct = DirectConvolution(kernel: kernel, bias: bias).run(x, geometry: c.geometry, epilogue: epilogue)
        let winograd = WinogradConvolution(kernel: kernel, bias: bias).run(x, geometry: c.geometry, epilogue: epilogue, block: block)
        #expect(winograd.shape == direct.shape)
        #expect(winograd.maxAbsDifference(direct) < 1e-4, "largest difference \(winograd.maxAbsDifference(direct))")
        #expect(direct.scalars.contains { $0 != 0 }, "the case computes something")
    }

    @Test func theLargeBlockWhereItDoesFewerProducts() {
        #expect(WinogradBlock.cheapest(outH: 36, outW: 36) == .four)
        #expect(WinogradBlock.cheapest(outH: 18, outW: 18) == .four)
        #expect(WinogradBlock.cheapest(outH: 6, outW: 6) == .two)
        #expect(WinogradBlock.cheapest(outH: 2, outW: 40) == .two)
    }

    @Test func onlyThreeByThreeStrideOneWithEnoughChannels() {
        #expect(WinogradConvolution.suits(kernel: (3, 3), strides: (1, 1), inputChannels: 16))
        #expect(!WinogradConvolution.suits(kernel: (3, 3), strides: (1, 1), inputChannels: 3))
        #expect(!WinogradConvolution.suits(kernel: (3, 3), strides: (2, 2), inputChannels: 16))
        #expect(!WinogradConvolution.suits(kernel: (5, 5), strides: (1, 1), inputChannels: 16))
    }
}
