// Images that need random access (interlaced PNGs, EXIF orientations) are decoded into an unnamed
// scratch file, not into memory, and read exactly as libvips reads them; their memory need is
// known from the header, before anything is decoded.

import CVips
import ConvCore
import Foundation
@testable import Imaging
import Testing

@Suite struct RandomAccessTests {
    /// The names in `folder` (an unnamed scratch file has none).
    static func names(_ folder: URL) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] }

    @Test(arguments: [(1, 1, 3, 8), (3, 5, 1, 8), (37, 29, 4, 8), (64, 40, 2, 16), (101, 7, 3, 16), (9, 130, 3, 8)])
    func interlacedPNGReadsLikeItsPlainTwin(size: (Int, Int, Int, Int)) throws {
        let (w, h, bands, depth) = size
        let folder = Support.scratch(), scratch = folder.appendingPathComponent("scratch")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: false)
        let pixels = Support.randomImage(width: w, height: h, bands: bands, bitDepth: depth, seed: UInt64(w * h))
        let plain = folder.appendingPathComponent("plain.png"), interlaced = folder.appendingPathComponent("adam7.png")
        Support.writeWithVips(pixels, to: plain, bitDepth: depth)
        Support.writeWithVips(pixels, to: interlaced, bitDepth: depth, interlace: true)
        let source = try ImageSource(url: interlaced, scratch: ScratchFolder(path: scratch.path))
        #expect((source.width, source.height, source.bands, source.bitDepth) == (w, h, bands, depth))
        #expect(try source.readAll() == ImageSource(url: plain).readAll())
        #expect(Self.names(scratch).isEmpty)
    }

    @Test func truncatedInterlacedPNGFailsNamingTheFile() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("cut.png")
        Support.writeWithVips(Support.randomImage(width: 200, height: 150, bands: 3, bitDepth: 8, seed: 3), to: file, interlace: true)
        let bytes = try Data(contentsOf: file)
        try bytes.prefix(bytes.count * 2 / 3).write(to: file)
        #expect {
            try ImageSource(url: file, scratch: ScratchFolder(path: folder.path)).readAll()
        } throws: { error in
            (error as? ImageError)?.path == file.path
        }
        #expect(Self.names(folder) == ["cut.png"])
    }

    /// The image as libvips itself turns it upright (random access, decoded in memory).
    static func turnedByLibvips(_ url: URL) throws -> [Float] {
        let image = tessera_vips_load("tiffload", url.path, 1, 0)!
        defer { tessera_vips_unref(image) }
        var upright: UnsafeMutablePointer<VipsImage>?
        #expect(tessera_vips_autorot(image, &upright) == 0)
        defer { tessera_vips_unref(upright!) }
        var size = 0
        let memory = vips_image_write_to_memory(upright!, &size)!
        defer { g_free(memory) }
        let bytes = UnsafeBufferPointer(start: memory.assumingMemoryBound(to: UInt8.self), count: size)
        return [Int32(vips_image_get_width(upright!)), Int32(vips_image_get_height(upright!))].map(Float.init) + bytes.map { Float($0) / 255 }
    }

    @Test(arguments: 1...8) func everyOrientationIsReadAsLibvipsTurnsIt(orientation: Int) throws {
        let folder = Support.scratch(), scratch = folder.appendingPathComponent("scratch")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: false)
        let file = folder.appendingPathComponent("turned.tif")
        Support.writeWithVips(Support.randomImage(width: 70, height: 45, bands: 3, bitDepth: 8, seed: 8), to: file) { image in
            vips_image_set_int(image, "orientation", Int32(orientation))
            return image
        }
        let source = try ImageSource(url: file, scratch: ScratchFolder(path: scratch.path))
        #expect([Float(source.width), Float(source.height)] + (try source.readAll()) == (try Self.turnedByLibvips(file)))
        #expect(Self.names(scratch).isEmpty)
    }

    @Test func aProgressiveJPEGNeedsItsCoefficientsInMemory() throws {
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (w, h) = (640, 480)
        let pixels = Support.randomImage(width: w, height: h, bands: 3, bitDepth: 8, seed: 4)
        let baseline = folder.appendingPathComponent("baseline.jpg"), progressive = folder.appendingPathComponent("progressive.jpg")
        Support.writeWithVips(pixels, to: baseline)
        Support.writeWithVips(pixels, to: progressive, interlace: true)
        // Quality 95 keeps full-resolution chroma (4:4:4): three components of 2-byte coefficients.
        #expect(try ImageSource(url: progressive).memoryNeed - ImageSource(url: baseline).memoryNeed == 2 * 3 * w * h)
    }

    @Test func nothingIsDecodedBeforeTheMemoryNeedIsAdmitted() throws {
        struct Refused: Error {}
        let folder = Support.scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("adam7.png")
        Support.writeWithVips(Support.randomImage(width: 300, height: 200, bands: 3, bitDepth: 8, seed: 5), to: file, interlace: true)
        var heard: [Int] = []
        let fd = open(file.path, O_RDONLY)
        defer { close(fd) }
        #expect(throws: Refused.self) {
            try ImageSource(descriptor: fd, path: file.path, scratch: ScratchFolder(path: "/nonexistent")) { need in
                heard.append(need)
                throw Refused()
            }
        }
        // Refused before the scratch folder (which does not exist) was touched.
        #expect(heard.count == 1 && heard[0] > 300 * 16 * 1024)
    }
}
