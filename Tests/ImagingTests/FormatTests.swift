// Every format libvips reads here goes through a style and comes back in the same format, size
// and (near) colours; palette PNGs read as RGBA; JPEG quality is honoured.

import ConvCore
import Foundation
import Imaging
import Testing

@Suite struct FormatTests {
    /// Lossy and palette formats: the identity output is close to the input, not equal.
    @Test(arguments: [ImageFormat.jpeg, .webp, .gif, .heif, .avif])
    func formatIsKept(_ format: ImageFormat) throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Smooth content, which every codec keeps well.
        let (w, h) = (90, 70)
        let image = Tensor(shape: [1, h, w, 3], scalars: (0..<(w * h)).flatMap { p -> [Float] in [Float(p % w) / Float(w), Float(p / w) / Float(h), 0.5] })
        let input = folder.appendingPathComponent("in.\(format.suffix)"), output = folder.appendingPathComponent("out.\(format.suffix)")
        do { try ImageFile.save(image, bitDepth: 8, to: input) } catch let error as ImageError where [.heif, .avif].contains(format) {
            // libvips' HEIF/AVIF encoders are optional: without one the error must still name the file.
            #expect(error.path == input.path, "\(error)")
            return
        }
        #expect(try Support.copyThroughTiles(input, to: output) == format)
        let written = try ImageSource(url: output)
        #expect(written.format == format && written.width == w && written.height == h)
        let (a, b) = (try ImageFile.load(input).pixels, try ImageFile.load(output).pixels)
        #expect(a.shape == b.shape)
        let meanError = zip(a.scalars, b.scalars).map { abs($0 - $1) }.reduce(0, +) / Float(a.count)
        #expect(meanError < 0.02, "\(format): mean error \(meanError)")
    }

    @Test func palettePNGWithTransparencyReadsAsRGBA() throws {
        let url = try #require(Bundle.module.url(forResource: "palette", withExtension: "png"))
        let source = try ImageSource(url: url)
        #expect(source.width == 5 && source.height == 3 && source.colourBands == 3 && source.hasAlpha && source.bitDepth == 8)
        let pixels = try source.readAll()
        #expect(Array(pixels[0..<4]) == [1, 0, 0, 1])
        #expect(Array(pixels[12..<16]) == [1, 1, 1, 0])
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.png")
        try Support.copyThroughTiles(url, to: output)
        #expect(try ImageFile.load(output).pixels.scalars == pixels)
    }

    @Test func jpegQualityIsHonoured() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("in.png")
        try ImageFile.save(Support.randomImage(width: 64, height: 64, bands: 3, bitDepth: 8, seed: 5), bitDepth: 8, to: input)
        var sizes: [Int] = []
        for quality in [20, 95] {
            let output = folder.appendingPathComponent("q\(quality).jpg")
            try Support.copyThroughTiles(input, to: output, options: SaveOptions(format: .jpeg, quality: quality))
            sizes.append(try Data(contentsOf: output).count)
        }
        #expect(sizes[0] * 2 < sizes[1], "\(sizes)")
    }
}
