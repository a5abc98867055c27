// Shared by the imaging tests: scratch folders, generated images and the shipped identity style.

import CVips
import ConvCore
import Foundation
@testable import Imaging
import Styles

enum Support {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shipped identity style: a spec that only crops the 10-px margin.
    static let identity = try! Style.load(repository.appendingPathComponent("Models/identity.safetensors"))

    /// A fresh empty folder, removed by the caller with `FileManager.removeItem`.
    static func scratch() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Random samples that are exact at the bit depth; alpha (the last band when `bands` is 2 or
    /// 4) is 0 over a block in the upper left, so transparency is exercised too.
    static func randomImage(width: Int, height: Int, bands: Int, bitDepth: Int, seed: UInt64) -> Tensor {
        var g = SeededGenerator(seed: seed)
        let maximum = Float(bitDepth == 16 ? 65535 : 255)
        var scalars = (0..<(width * height * bands)).map { _ in (g.nextUnitFloat() * maximum).rounded(.down) / maximum }
        if bands == 2 || bands == 4 {
            for y in 0..<(height / 3) { for x in 0..<(width / 3) { scalars[(y * width + x) * bands + bands - 1] = 0 } }
        }
        return Tensor(shape: [1, height, width, bands], scalars: scalars)
    }

    /// Runs `body` on a libvips image of `pixels` (8-bit), then saves it to `url` with the saver of
    /// its suffix: how tests make files with EXIF tags or ICC profiles.
    static func writeWithVips(_ pixels: Tensor, to url: URL,
                              _ body: (UnsafeMutablePointer<VipsImage>) -> UnsafeMutablePointer<VipsImage>) {
        guard Vips.ready else { fatalError("libvips failed to initialise") }
        let (h, w, c) = (pixels.shape[1], pixels.shape[2], pixels.shape[3])
        let bytes = pixels.scalars.map { UInt8(($0 * 255).rounded()) }
        let image = bytes.withUnsafeBytes {
            vips_image_new_from_memory_copy($0.baseAddress, $0.count, Int32(w), Int32(h), Int32(c), VIPS_FORMAT_UCHAR)!
        }
        image.pointee.Type = c >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W
        let final = body(image)
        guard vips_image_write_to_file_shim(final, url.path) == 0 else { fatalError(String(cString: vips_error_buffer())) }
        if final != image { tessera_vips_unref(final) }
        tessera_vips_unref(image)
    }
}

extension Support {
    /// One pixel of an 8-bit file as stored, without any colour management.
    static func storedPixel(_ url: URL, _ x: Int, _ y: Int) -> [Float] {
        guard Vips.ready, let image = tessera_vips_open(url.path, 1, 0) else { fatalError("cannot open \(url.path)") }
        defer { tessera_vips_unref(image) }
        var size = 0
        guard let memory = vips_image_write_to_memory(image, &size) else { fatalError("cannot decode \(url.path)") }
        defer { g_free(memory) }
        let (w, c) = (Int(vips_image_get_width(image)), Int(vips_image_get_bands(image)))
        let bytes = memory.assumingMemoryBound(to: UInt8.self)
        return (0..<c).map { Float(bytes[(y * w + x) * c + $0]) / 255 }
    }
}

private func vips_image_write_to_file_shim(_ image: UnsafeMutablePointer<VipsImage>, _ path: String) -> Int32 {
    switch URL(fileURLWithPath: path).pathExtension {
    case "jpg": tessera_vips_jpegsave(image, path, 95)
    case "tif": tessera_vips_tiffsave(image, path)
    default: tessera_vips_pngsave(image, path)
    }
}
