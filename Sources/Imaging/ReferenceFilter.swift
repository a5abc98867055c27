// The reference filters `tessera pairs make` turns photos into training pairs with, all done by
// libvips on the normalised (upright, sRGB, 8-bit, alpha dropped) photo, scaled down so its long
// side is at most `longSide` pixels:
//   posterize: each sRGB channel quantised to 4 levels, floor(v * 4 / 256) * 85 (0, 85, 170, 255);
//   edges:     the Sobel gradient magnitude of the BT.601 luma, one band;
//   colorize:  the BT.601 luma as input, the colour photo as target.
// Input and target are written as PNG under the same name; an existing file is never replaced.

import CVips
import Foundation

/// The libvips filters that make the shipped styles' training targets from photos.
public enum ReferenceFilter: String, CaseIterable, Sendable {
    case posterize, edges, colorize

    /// Writes the pair made from `photo` to `input` and `target` (PNG files).
    public func makePair(from photo: URL, longSide: Int, input: URL, target: URL) throws {
        let source = try ImageSource(url: photo)
        let path = photo.path
        var owned: [UnsafeMutablePointer<VipsImage>] = []
        defer { owned.forEach { tessera_vips_unref($0) } }
        func step(_ image: UnsafeMutablePointer<VipsImage>,
                  _ operation: (UnsafeMutablePointer<VipsImage>, inout UnsafeMutablePointer<VipsImage>?) -> Int32) throws -> UnsafeMutablePointer<VipsImage> {
            var out: UnsafeMutablePointer<VipsImage>?
            try Vips.checked(path) { operation(image, &out) == 0 && out != nil }
            owned.append(out!)
            return out!
        }

        let colour = source.colourBands == 3
        if self == .colorize && !colour { throw ImageError(path, "is a grey image; colorize pairs need colour photos") }
        var photo = source.image
        if source.hasAlpha { photo = try step(photo) { tessera_vips_extract_bands($0, &$1, 0, Int32(source.colourBands)) } }
        photo = try step(photo) { tessera_vips_colourspace($0, &$1, colour ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W) }
        let long = max(source.width, source.height)
        if long > longSide {
            photo = try step(photo) { tessera_vips_resize($0, &$1, Double(longSide) / Double(long)) }
        }
        // Input and target both read the photo: decode it (small now) once, into memory.
        var decoded: UnsafeMutablePointer<VipsImage>?
        try Vips.checked(path) { decoded = vips_image_copy_memory(photo); return decoded != nil }
        owned.append(decoded!)
        photo = decoded!
        let luma = colour ? try step(photo) { tessera_vips_luma601($0, &$1) } : photo

        let (inputImage, targetImage): (UnsafeMutablePointer<VipsImage>, UnsafeMutablePointer<VipsImage>)
        switch self {
        case .posterize:
            var levels = try step(photo) { tessera_vips_scale($0, &$1, 4.0 / 256) }
            levels = try step(levels) { tessera_vips_floor($0, &$1) }
            levels = try step(levels) { tessera_vips_scale($0, &$1, 85) }
            (inputImage, targetImage) = (photo, try step(levels) { tessera_vips_cast_uchar($0, &$1) })
        case .edges:
            (inputImage, targetImage) = (photo, try step(luma) { tessera_vips_sobel($0, &$1) })
        case .colorize:
            (inputImage, targetImage) = (luma, photo)
        }
        // Both files are written before either is linked into place: no half pair is left.
        for url in [input, target] where FileManager.default.fileExists(atPath: url.path) {
            throw ImageError(url.path, "already exists; not overwritten")
        }
        let temporaries = try [input, target].map { try temporaryFile(for: $0, format: .png) }
        defer { temporaries.forEach { unlink($0.path) } }
        for (image, (temporary, url)) in zip([inputImage, targetImage], zip(temporaries, [input, target])) {
            try Vips.checked(url.path) { tessera_vips_pngsave(image, temporary.path, 0) == 0 }
        }
        try commit(temporaries[0], to: input, replacing: false)
        try commit(temporaries[1], to: target, replacing: false)
    }
}
