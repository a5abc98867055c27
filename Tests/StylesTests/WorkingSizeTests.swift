// Styles that run their network at a working size (StyleHandling): the metadata's rules, and the
// Stylizer's two passes (network on the resized image, its CbCr enlarged onto full-size Y) on
// grey, colour, alpha and 16-bit images, on the tile and the region path.

import ConvCore
import Foundation
@testable import Imaging
@testable import Styles
import Testing

@Suite struct WorkingSizeTests {
    /// Cb = 0.5, Cr = 0.4 + 0.2 Y of what the network saw: brighter comes back redder (and never
    /// clips, for Y in [0.2, 0.8]).
    static func redFromLuminance(workingSize: Int, in folder: URL) throws -> Style {
        try ColourHandlingTests.style(
            #"{"name": "red", "input": {"name": "input", "shape": [36, 36, 1]}, "layers": [{"name": "crop", "type": "Cropping2D", "cropping": 10}, {"name": "cbcr", "type": "Conv2D", "filters": 2, "kernel_size": 1}], "outputs": ["cbcr"]}"#,
            ["cbcr.kernel": Tensor(shape: [1, 1, 1, 2], scalars: [0, 0.2]), "cbcr.bias": Tensor(shape: [2], scalars: [0.5, 0.4])],
            colour: #"{"input": "luminance", "output": "cbcr", "working_size": \#(workingSize)}"#, in: folder)
    }

    @Test func metadataDeclaresAWorkingSizeForCbCrStylesOnly() throws {
        let handling = try StyleHandling(metadata: #"{"input": "luminance", "output": "cbcr", "working_size": 128}"#)
        #expect(handling.workingSize == 128 && handling.colour == ColourHandling(input: .luminance, output: .cbcr))
        #expect(try StyleHandling(metadata: handling.json) == handling)
        #expect(try StyleHandling(metadata: #"{"input": "luminance", "output": "cbcr"}"#).workingSize == nil)
        for (bad, reason) in [(#""working_size": 1.5"#, "whole number"), (#""working_size": true"#, "whole number"),
                              (#""working_size": "128""#, "whole number"), (#""working_size": 20"#, "36 to 8192"),
                              (#""workingsize": 128"#, "unknown key \"workingsize\"")] {
            #expect { try StyleHandling(metadata: #"{"input": "luminance", "output": "cbcr", \#(bad)}"#) } throws: {
                "\($0)".contains(reason)
            }
        }
        #expect { try StyleHandling(metadata: #"{"output": "rgb", "working_size": 128}"#) } throws: { "\($0)".contains("needs a cbcr output") }
    }

    @Test func resizedSizeKeepsTheAspectAndOneCore() {
        #expect(resizedSize(width: 4000, height: 3000, longSide: 128) == (128, 96))
        #expect(resizedSize(width: 3000, height: 4000, longSide: 128) == (96, 128))
        #expect(resizedSize(width: 8000, height: 100, longSide: 128) == (128, 16))
        #expect(resizedSize(width: 20, height: 10, longSide: 400) == (320, 160))
    }

    /// A horizontal ramp through the red style at an eighth of its size: the enlarged chroma lines
    /// up with the full-size image (a shift would show as a bias on the ramp), the luminance is
    /// the input's own.
    @Test func chromaFromTheSmallImageLinesUpWithTheFullSizeOne() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (w, h) = (400, 120)
        let ramp = Tensor(shape: [1, h, w, 1], scalars: (0..<(w * h)).map { Float($0 % w) / Float(w - 1) * 0.6 + 0.2 })
        let input = folder.appendingPathComponent("ramp.png"), output = folder.appendingPathComponent("out.png")
        try ImageFile.save(ramp, bitDepth: 16, to: input)
        try Stylizer(style: try Self.redFromLuminance(workingSize: 50, in: folder)).stylize(input, to: output)
        let (out, depth) = try ImageFile.load(output)
        #expect(out.shape == [1, h, w, 3] && depth == 16)
        let ycbcr = ColourConversion.rgbToYCbCr(out)
        var worst: Float = 0, luminance: Float = 0
        for y in 0..<h {
            for x in 0..<w {
                let p = y * w + x
                luminance = max(luminance, abs(ycbcr.scalars[3 * p] - ramp.scalars[p]))
                // Away from the left and right edges, where the resampling kernel meets the border.
                if x >= 24 && x < w - 24 { worst = max(worst, abs(ycbcr.scalars[3 * p + 2] - (0.4 + 0.2 * ramp.scalars[p]))) }
            }
        }
        #expect(luminance <= 2.0 / 255, "Y off by \(luminance)")
        // The ramp's Cr climbs 0.0003 a pixel: 0.0005 is less than two pixels' shift.
        #expect(worst <= 0.0005, "Cr off the ramp by \(worst)")
    }

    @Test func tilePathAndRegionPathAgreeWithAlphaAndSixteenBits() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let style = try Self.redFromLuminance(workingSize: 64, in: folder)
        let rgb = Support.randomImage(width: 150, height: 70, bands: 3, bitDepth: 8, seed: 4)
        let input = folder.appendingPathComponent("in.jpg")
        try ImageFile.save(rgb, bitDepth: 8, to: input)
        var tiled = Stylizer(style: style, threads: 2)
        tiled.allowsRegionPath = false
        let fast = Stylizer(style: style, threads: 2)
        #expect(fast.takesRegionPath && !tiled.takesRegionPath)
        let (a, b) = (folder.appendingPathComponent("a.png"), folder.appendingPathComponent("b.png"))
        try tiled.stylize(input, to: a, options: SaveOptions(format: .png))
        try fast.stylize(input, to: b, options: SaveOptions(format: .png))
        let (x, y) = (try ImageFile.load(a).pixels, try ImageFile.load(b).pixels)
        #expect(x.shape == [1, 70, 150, 3] && x.scalars == y.scalars)

        let rgba = Support.randomImage(width: 90, height: 50, bands: 4, bitDepth: 16, seed: 5)
        let transparent = folder.appendingPathComponent("alpha.png"), out = folder.appendingPathComponent("alpha-out.png")
        try ImageFile.save(rgba, bitDepth: 16, to: transparent)
        try fast.stylize(transparent, to: out)
        let (result, depth) = try ImageFile.load(out)
        #expect(result.shape == [1, 50, 90, 4] && depth == 16)
        let alphaKept = (0..<(90 * 50)).allSatisfy { (p: Int) -> Bool in result.scalars[4 * p + 3] == rgba.scalars[4 * p + 3] }
        #expect(alphaKept)
    }
}
