// Files come out upright and in sRGB whatever their EXIF orientation, CMYK ink or ICC profile.

import CVips
import ConvCore
import Foundation
@testable import Imaging
import Testing

@Suite struct ColourManagementTests {
    /// Four flat quadrants, so orientation and colour can be read from block centres.
    static func quadrants(width: Int, height: Int, _ colours: [[Float]]) -> Tensor {
        Tensor(shape: [1, height, width, 3], scalars: (0..<(width * height)).flatMap { p in
            colours[(p / width < height / 2 ? 0 : 2) + (p % width < width / 2 ? 0 : 1)]
        })
    }

    static func pixel(_ t: Tensor, _ x: Int, _ y: Int) -> [Float] {
        let (w, c) = (t.shape[2], t.shape[3])
        return (0..<c).map { t.scalars[(y * w + x) * c + $0] }
    }

    static func close(_ a: [Float], _ b: [Float], _ tolerance: Float) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance }
    }

    static let colours: [[Float]] = [[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.2, 0.3, 0.9], [0.9, 0.9, 0.2]]

    @Test func exifOrientationSixComesOutUpright() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (w, h) = (64, 32)
        let input = folder.appendingPathComponent("rotated.jpg"), output = folder.appendingPathComponent("upright.png")
        Support.writeWithVips(Self.quadrants(width: w, height: h, Self.colours), to: input) { image in
            vips_image_set_int(image, "orientation", 6)
            return image
        }
        try Support.copyThroughTiles(input, to: output)
        let (out, _) = try ImageFile.load(output)
        #expect(out.shape == [1, w, h, 3])
        // Orientation 6: displayed turned 90 degrees clockwise, so the stored bottom-left quadrant
        // is the top-left one, the stored top-left the top-right, and so on.
        #expect(Self.close(Self.pixel(out, 8, 16), Self.colours[2], 0.03))
        #expect(Self.close(Self.pixel(out, 24, 16), Self.colours[0], 0.03))
        #expect(Self.close(Self.pixel(out, 8, 48), Self.colours[3], 0.03))
        #expect(Self.close(Self.pixel(out, 24, 48), Self.colours[1], 0.03))
        // The tag is gone: the output does not get turned a second time.
        #expect(try ImageSource(url: output).width == h)
    }

    @Test func cmykJPEGComesOutAsSRGB() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("cmyk.jpg"), output = folder.appendingPathComponent("out.jpg")
        let mid: [[Float]] = [[0.6, 0.4, 0.3], [0.3, 0.5, 0.4], [0.4, 0.4, 0.6], [0.7, 0.6, 0.3]]
        Support.writeWithVips(Self.quadrants(width: 48, height: 48, mid), to: input) { image in
            var cmyk: UnsafeMutablePointer<VipsImage>?
            guard tessera_vips_icc_transform(image, &cmyk, "cmyk", 8, "srgb") == 0, let cmyk else { fatalError("no CMYK transform") }
            return cmyk
        }
        let source = try ImageSource(url: input)
        #expect(source.colourBands == 3 && !source.hasAlpha)
        try Support.copyThroughTiles(input, to: output)
        let (out, _) = try ImageFile.load(output)
        #expect(out.shape == [1, 48, 48, 3])
        // In-gamut colours survive sRGB -> CMYK -> sRGB within a few levels.
        for (q, (x, y)) in [(12, 12), (36, 12), (12, 36), (36, 36)].enumerated() {
            #expect(Self.close(Self.pixel(out, x, y), mid[q], 0.06), "quadrant \(q): \(Self.pixel(out, x, y))")
        }
        let written = try ImageSource(url: output)
        #expect(Vips.srgbProfile != nil && Vips.blob(written.image, "icc-profile-data") == Vips.srgbProfile)
    }

    @Test func displayP3ImageComesOutAsSRGB() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("p3.png"), output = folder.appendingPathComponent("out.png")
        Support.writeWithVips(Self.quadrants(width: 32, height: 32, [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]]), to: input) { image in
            var p3: UnsafeMutablePointer<VipsImage>?
            guard tessera_vips_icc_transform(image, &p3, "p3", 8, "srgb") == 0, let p3 else { fatalError("no P3 transform") }
            return p3
        }
        // The file's own numbers are Display P3: sRGB red is not (1, 0, 0) there.
        #expect(!Self.close(Support.storedPixel(input, 8, 8), [1, 0, 0], 0.05))
        try Support.copyThroughTiles(input, to: output)
        let (out, _) = try ImageFile.load(output)
        #expect(Self.close(Self.pixel(out, 8, 8), [1, 0, 0], 0.02), "\(Self.pixel(out, 8, 8))")
        #expect(Self.close(Self.pixel(out, 24, 8), [0, 1, 0], 0.02), "\(Self.pixel(out, 24, 8))")
        #expect(Self.close(Self.pixel(out, 8, 24), [0, 0, 1], 0.02), "\(Self.pixel(out, 8, 24))")
    }

    @Test func iccDescriptionsAreRead() throws {
        let srgb = try #require(Vips.srgbProfile)
        #expect(isSRGB(srgb))
        #expect(iccDescription(srgb)?.isEmpty == false)
        #expect(iccDescription([1, 2, 3]) == nil)
    }
}
