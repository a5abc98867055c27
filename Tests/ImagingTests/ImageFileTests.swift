// The libvips plumbing: an image written and read back through the shim is unchanged.

import ConvCore
import Foundation
import Imaging
import Testing

@Suite struct ImageFileTests {
    @Test(arguments: [(8, 3, "png"), (16, 3, "png"), (8, 1, "png"), (16, 4, "png"), (8, 3, "tif"), (16, 2, "tif")])
    func losslessRoundTrip(_ bitDepth: Int, _ bands: Int, _ suffix: String) throws {
        let (h, w) = (17, 23)
        let maximum = bitDepth == 16 ? 65535 : 255
        // Every value a distinct level, so any rounding or channel mix-up shows.
        let scalars = (0..<(h * w * bands)).map { Float(($0 * 7919) % (maximum + 1)) / Float(maximum) }
        let image = Tensor(shape: [1, h, w, bands], scalars: scalars)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(UUID().uuidString).\(suffix)")
        defer { try? FileManager.default.removeItem(at: url) }
        try ImageFile.save(image, bitDepth: bitDepth, to: url)
        let (back, depth) = try ImageFile.load(url)
        #expect(depth == bitDepth)
        #expect(back == image)
    }

    @Test func unreadableFileIsOneLineNamingIt() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(UUID().uuidString).jpg")
        try Data("not an image".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try ImageFile.load(url)
            Issue.record("a text file loaded as an image")
        } catch let e as ImageError {
            #expect(e.description == "\(url.path): unsupported format (Tessera reads JPEG, PNG, TIFF, WebP, GIF, HEIF and AVIF)")
        }
    }
}
