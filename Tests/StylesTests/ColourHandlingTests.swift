// Colour handling around the network (DESIGN.md §7), alpha carried through, transparent colour
// bled before the network and restored after it.

import ConvCore
import Foundation
@testable import Imaging
@testable import Styles
import Testing

@Suite struct ColourHandlingTests {
    /// A style file from a spec and weights.
    static func style(_ spec: String, _ weights: [String: Tensor], colour: String, in folder: URL) throws -> Style {
        let model = try Model(spec: try ModelSpec(json: spec), weights: weights)
        let file = folder.appendingPathComponent("\(model.name).safetensors")
        try model.save(to: file, metadata: ["tessera.style": colour])
        return try Style.load(file)
    }

    /// Luminance in, CbCr out: a constant (cb, cr) recombined with the input's own Y.
    static func tint(cb: Float, cr: Float, in folder: URL) throws -> Style {
        try style(#"{"name": "tint", "input": {"name": "input", "shape": [36, 36, 1]}, "layers": [{"name": "crop", "type": "Cropping2D", "cropping": 10}, {"name": "cbcr", "type": "Conv2D", "filters": 2, "kernel_size": 1}], "outputs": ["cbcr"]}"#,
                  ["cbcr.kernel": Tensor(zeros: [1, 1, 1, 2]), "cbcr.bias": Tensor(shape: [2], scalars: [cb, cr])],
                  colour: #"{"input": "luminance", "output": "cbcr"}"#, in: folder)
    }

    @Test func greyImageGetsColourFromACbCrStyle() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let grey = Support.randomImage(width: 40, height: 30, bands: 1, bitDepth: 8, seed: 1)
        let input = folder.appendingPathComponent("grey.png"), output = folder.appendingPathComponent("out.png")
        try ImageFile.save(grey, bitDepth: 8, to: input)

        try Stylizer(style: try Self.tint(cb: 0.5, cr: 0.5, in: folder)).stylize(input, to: output)
        let (neutral, _) = try ImageFile.load(output)
        #expect(neutral.shape == [1, 30, 40, 3])
        // Neutral chroma: R = G = B = the input's Y.
        #expect((0..<(30 * 40)).allSatisfy { p in (0..<3).allSatisfy { abs(neutral.scalars[3 * p + $0] - grey.scalars[p]) <= 1.0 / 255 } })

        try Stylizer(style: try Self.tint(cb: 0.5, cr: 0.6, in: folder)).stylize(input, to: output, replacing: true)
        let (warm, _) = try ImageFile.load(output)
        // Cr above neutral: red up by 1.402 * 0.1 where it does not clip.
        let p = (0..<(30 * 40)).first { grey.scalars[$0] > 0.2 && grey.scalars[$0] < 0.7 }!
        #expect(abs(warm.scalars[3 * p] - (grey.scalars[p] + 0.1402)) <= 2.0 / 255)
    }

    @Test func luminanceStyleMakesOneBandAndKeepsAlpha() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let style = try Self.style(#"{"name": "grey", "input": {"name": "input", "shape": [36, 36, 1]}, "layers": [{"name": "crop", "type": "Cropping2D", "cropping": 10}], "outputs": ["crop"]}"#,
                                   [:], colour: #"{"input": "luminance", "output": "luminance"}"#, in: folder)
        let rgba = Support.randomImage(width: 33, height: 20, bands: 4, bitDepth: 16, seed: 2)
        let input = folder.appendingPathComponent("in.png"), output = folder.appendingPathComponent("out.png")
        try ImageFile.save(rgba, bitDepth: 16, to: input)
        try Stylizer(style: style).stylize(input, to: output)
        let (out, depth) = try ImageFile.load(output)
        #expect(out.shape == [1, 20, 33, 2] && depth == 16)
        for p in 0..<(33 * 20) {
            let (r, g, b, a) = (rgba.scalars[4 * p], rgba.scalars[4 * p + 1], rgba.scalars[4 * p + 2], rgba.scalars[4 * p + 3])
            #expect(abs(out.scalars[2 * p] - (0.299 * r + 0.587 * g + 0.114 * b)) <= 1.0 / 65535)
            #expect(out.scalars[2 * p + 1] == a)
        }
    }

    @Test func bleedFillsTransparentPixelsFromOpaqueOnes() {
        let n = 36
        var colour = [Float](repeating: 0, count: n * n * 3)
        var alpha = [Float](repeating: 0, count: n * n)
        for y in 0..<n { for x in 30..<n { alpha[y * n + x] = 1; colour.replaceSubrange((3 * (y * n + x))..<(3 * (y * n + x) + 3), with: [0.2, 0.6, 0.9]) } }
        alpha.withUnsafeBufferPointer { a in
            colour.withUnsafeMutableBufferPointer { bleedTransparentColour($0.baseAddress!, alpha: a.baseAddress!, size: n, bands: 3) }
        }
        #expect((0..<(n * n)).allSatisfy { p in zip(colour[(3 * p)..<(3 * p + 3)], [Float(0.2), 0.6, 0.9]).allSatisfy { abs($0 - $1) < 1e-6 } })
    }

    /// A 3x3 box blur over an RGBA image whose transparent half is black underneath: opaque pixels
    /// at the edge stay their colour (no dark halo), transparent ones keep their black.
    @Test func transparentColourDoesNotLeakIntoEdges() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let kernel = Tensor(shape: [3, 3, 3, 3], scalars: (0..<81).map { $0 % 3 == $0 / 3 % 3 ? 1.0 / 9 : 0 })
        let blur = try Self.style(#"{"name": "blur", "input": {"name": "input", "shape": [36, 36, 3]}, "layers": [{"name": "box", "type": "Conv2D", "filters": 3, "kernel_size": 3, "padding": "same", "use_bias": false}, {"name": "crop", "type": "Cropping2D", "cropping": 10}], "outputs": ["crop"]}"#,
                                  ["box.kernel": kernel], colour: #"{"input": "rgb", "output": "rgb"}"#, in: folder)
        let (w, h) = (50, 40)
        let image = Tensor(shape: [1, h, w, 4], scalars: (0..<(w * h)).flatMap { p -> [Float] in p % w >= 20 ? [0.8, 0.4, 0.2, 1] : [0, 0, 0, 0] })
        let input = folder.appendingPathComponent("in.png"), output = folder.appendingPathComponent("out.png")
        try ImageFile.save(image, bitDepth: 8, to: input)
        try Stylizer(style: blur).stylize(input, to: output)
        let (out, _) = try ImageFile.load(output)
        #expect(out.shape == image.shape)
        let original = try ImageFile.load(input).pixels
        #expect(out.scalars == original.scalars)
    }
}
