// Whole images as float tensors in [0, 1], for small images, tests and training: read through
// ImageSource (so normalised: upright, sRGB, grey or RGB plus alpha), written with the saver of
// the file name's suffix.

import CVips
import ConvCore
import Foundation

/// Whole images in memory as [1, h, w, bands] tensors in [0, 1]: for tests, training pairs and small tools.
public enum ImageFile {
    /// Pixels as [1, height, width, bands] in [0, 1] and the bit depth of the file's format.
    public static func load(_ url: URL, pixelLimit: Int = ImageSource.defaultPixelLimit) throws -> (pixels: Tensor, bitDepth: Int) {
        let source = try ImageSource(url: url, pixelLimit: pixelLimit)
        return (Tensor(shape: [1, source.height, source.width, source.bands], scalars: try source.readAll()), source.bitDepth)
    }

    /// Writes [1, height, width, bands] values in [0, 1] at the given bit depth (8 or 16) in the
    /// format of the file name's suffix, atomically.
    public static func save(_ pixels: Tensor, bitDepth: Int, to url: URL, options: SaveOptions = SaveOptions()) throws {
        guard Vips.ready else { throw ImageError(url.path, "libvips failed to initialise") }
        guard let format = options.format ?? ImageFormat(name: url.pathExtension) else {
            throw ImageError(url.path, "unknown image format '.\(url.pathExtension)'")
        }
        let (height, width, bands) = (pixels.shape[1], pixels.shape[2], pixels.shape[3])
        let maximum: Float = bitDepth == 16 ? 65535 : 255
        let quantised = pixels.scalars.map { (min(max($0, 0), 1) * maximum).rounded() }
        let image: UnsafeMutablePointer<VipsImage>? = bitDepth == 16
            ? quantised.map { UInt16($0) }.withUnsafeBytes {
                vips_image_new_from_memory_copy($0.baseAddress, $0.count, Int32(width), Int32(height), Int32(bands), VIPS_FORMAT_USHORT)
            }
            : quantised.map { UInt8($0) }.withUnsafeBytes {
                vips_image_new_from_memory_copy($0.baseAddress, $0.count, Int32(width), Int32(height), Int32(bands), VIPS_FORMAT_UCHAR)
            }
        guard let image else { throw ImageError(url.path, Vips.lastError()) }
        defer { tessera_vips_unref(image) }
        // Savers decide bit depth and colour type from the interpretation (PNG writes 8 bits for
        // a 16-bit image tagged multiband).
        let colour = bands >= 3
        image.pointee.Type = bitDepth == 16 ? (colour ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_GREY16)
                                            : (colour ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W)
        let temporary = try temporaryFile(for: url, format: format)
        defer { unlink(temporary.path) }
        try Vips.checked(url.path) { options.write(image, as: format, to: temporary.path) == 0 }
        try commit(temporary, to: url, replacing: true)
    }
}
