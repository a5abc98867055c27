// Shared by the imaging tests: scratch folders, generated images and the shipped identity style.

import CVips
import ConvCore
import Foundation
@testable import Imaging
import TestSupport

enum Support {
    static let repository = Scratch.repository
    static func scratch() -> URL { Scratch.folder() }
    static func randomImage(width: Int, height: Int, bands: Int, bitDepth: Int, seed: UInt64) -> Tensor {
        Scratch.randomImage(width: width, height: height, bands: bands, bitDepth: bitDepth, seed: seed)
    }

    /// `input` through the tile pipeline with a transform that only crops each tile's margin: what
    /// comes out is the image as the pipeline reads and writes it.
    @discardableResult
    static func copyThroughTiles(_ input: URL, to output: URL, options: SaveOptions = SaveOptions()) throws -> ImageFormat {
        try TileRenderer(source: try ImageSource(url: input), transform: CropMargins()).write(to: output, options: options)
    }

    /// Runs `body` on a libvips image of `pixels` (8-bit), then saves it to `url` with the saver of
    /// its suffix: how tests make files with EXIF tags or ICC profiles.
    static func writeWithVips(_ pixels: Tensor, to url: URL, bitDepth: Int = 8, interlace: Bool = false,
                              _ body: (UnsafeMutablePointer<VipsImage>) -> UnsafeMutablePointer<VipsImage> = { $0 }) {
        guard Vips.ready else { fatalError("libvips failed to initialise") }
        let (h, w, c) = (pixels.shape[1], pixels.shape[2], pixels.shape[3])
        let image = bitDepth == 16
            ? pixels.scalars.map { UInt16(($0 * 65535).rounded()) }.withUnsafeBytes {
                vips_image_new_from_memory_copy($0.baseAddress, $0.count, Int32(w), Int32(h), Int32(c), VIPS_FORMAT_USHORT)! }
            : pixels.scalars.map { UInt8(($0 * 255).rounded()) }.withUnsafeBytes {
                vips_image_new_from_memory_copy($0.baseAddress, $0.count, Int32(w), Int32(h), Int32(c), VIPS_FORMAT_UCHAR)! }
        image.pointee.Type = c >= 3 ? (bitDepth == 16 ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_sRGB)
                                    : (bitDepth == 16 ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_B_W)
        let final = body(image)
        guard vips_image_write_to_file_shim(final, url.path, interlace: interlace) == 0 else { fatalError(String(cString: vips_error_buffer())) }
        if final != image { tessera_vips_unref(final) }
        tessera_vips_unref(image)
    }
}

extension Support {
    /// One pixel of an 8-bit file as stored, without any colour management.
    static func storedPixel(_ url: URL, _ x: Int, _ y: Int) -> [Float] {
        guard Vips.ready, let image = tessera_vips_load(ImageFormat(name: url.pathExtension)!.loader, url.path, 1, 0) else { fatalError("cannot open \(url.path)") }
        defer { tessera_vips_unref(image) }
        var size = 0
        guard let memory = vips_image_write_to_memory(image, &size) else { fatalError("cannot decode \(url.path)") }
        defer { g_free(memory) }
        let (w, c) = (Int(vips_image_get_width(image)), Int(vips_image_get_bands(image)))
        let bytes = memory.assumingMemoryBound(to: UInt8.self)
        return (0..<c).map { Float(bytes[(y * w + x) * c + $0]) / 255 }
    }
}

private func vips_image_write_to_file_shim(_ image: UnsafeMutablePointer<VipsImage>, _ path: String, interlace: Bool) -> Int32 {
    switch URL(fileURLWithPath: path).pathExtension {
    case "jpg": tessera_vips_jpegsave(image, path, 95, interlace ? 1 : 0)
    case "tif": tessera_vips_tiffsave(image, path)
    default: tessera_vips_pngsave(image, path, interlace ? 1 : 0)
    }
}

/// The identity style without a network: each 36x36 tile's central 16x16.
private struct CropMargins: TileTransform {
    func outputBands(forColourBands colourBands: Int) -> Int { colourBands }

    func apply(_ tiles: Tensor, tileRow: Int) throws -> Tensor {
        let (n, c, m, margin) = (tiles.shape[0], tiles.shape[3], TileGrid.outputSize, TileGrid.margin)
        return Tensor(shape: [n, m, m, c]) { out in
            for row in 0..<(n * m) {
                let (t, y) = (row / m, row % m), from = ((t * TileGrid.inputSize + y + margin) * TileGrid.inputSize + margin) * c
                for i in 0..<(m * c) { out[row * m * c + i] = tiles.scalars[from + i] }
            }
        }
    }
}
