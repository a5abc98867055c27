// Reading and writing whole images through libvips as float tensors in [0, 1]. (Streaming by
// strips, orientation, colour management and alpha handling arrive with the imaging issue.)

import CVips
import ConvCore
import Foundation

public enum ImageFile {
    /// Pixels as [1, height, width, bands] in [0, 1] and the bit depth of the file's format.
    public static func load(_ url: URL) throws -> (pixels: Tensor, bitDepth: Int) {
        guard Vips.ready else { throw ModelError("libvips failed to initialise") }
        guard let image = tessera_vips_open(url.path, 1, 0) else {
            throw ModelError("\(url.path): \(Vips.lastError())")
        }
        defer { tessera_vips_unref(image) }
        let width = Int(vips_image_get_width(image)), height = Int(vips_image_get_height(image))
        let bands = Int(vips_image_get_bands(image))
        let format = vips_image_get_format(image)
        let sixteen = format == VIPS_FORMAT_USHORT
        guard sixteen || format == VIPS_FORMAT_UCHAR else { throw ModelError("\(url.path): unsupported pixel format") }
        var size = 0
        guard let memory = vips_image_write_to_memory(image, &size) else { throw ModelError("\(url.path): \(Vips.lastError())") }
        defer { g_free(memory) }
        let count = width * height * bands
        var scalars = [Float](repeating: 0, count: count)
        if sixteen {
            let p = memory.bindMemory(to: UInt16.self, capacity: count)
            for i in 0..<count { scalars[i] = Float(p[i]) / 65535 }
        } else {
            let p = memory.bindMemory(to: UInt8.self, capacity: count)
            for i in 0..<count { scalars[i] = Float(p[i]) / 255 }
        }
        return (Tensor(shape: [1, height, width, bands], scalars: scalars), sixteen ? 16 : 8)
    }

    /// Writes [1, height, width, bands] values in [0, 1] at the given bit depth (8 or 16); the
    /// format follows the file name's suffix.
    public static func save(_ pixels: Tensor, bitDepth: Int, to url: URL) throws {
        guard Vips.ready else { throw ModelError("libvips failed to initialise") }
        let (_, height, width, bands) = (pixels.shape[0], pixels.shape[1], pixels.shape[2], pixels.shape[3])
        let maximum: Float = bitDepth == 16 ? 65535 : 255
        let quantised = pixels.scalars.map { (min(max($0, 0), 1) * maximum).rounded() }
        let image: UnsafeMutablePointer<VipsImage>? = bitDepth == 16
            ? quantised.map { UInt16($0) }.withUnsafeBytes {
                vips_image_new_from_memory_copy($0.baseAddress, $0.count, Int32(width), Int32(height), Int32(bands), VIPS_FORMAT_USHORT)
            }
            : quantised.map { UInt8($0) }.withUnsafeBytes {
                vips_image_new_from_memory_copy($0.baseAddress, $0.count, Int32(width), Int32(height), Int32(bands), VIPS_FORMAT_UCHAR)
            }
        guard let image else { throw ModelError("\(url.path): \(Vips.lastError())") }
        defer { tessera_vips_unref(image) }
        // Savers decide bit depth and colour type from the interpretation (PNG writes 8 bits for
        // a 16-bit image tagged multiband).
        let colour = bands >= 3
        image.pointee.Type = bitDepth == 16 ? (colour ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_GREY16)
                                            : (colour ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W)
        guard tessera_vips_write(image, url.path) == 0 else { throw ModelError("\(url.path): \(Vips.lastError())") }
    }
}
