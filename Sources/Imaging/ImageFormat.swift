// The file formats Tessera writes, how each is chosen (the source's format by default, a known
// suffix or `--format` otherwise) and what each can hold.

import CVips

/// The file formats Tessera reads and writes through libvips.
public enum ImageFormat: String, CaseIterable, Sendable {
    case jpeg, png, tiff, webp, gif, heif, avif

    /// The formats as a user reads them in "unsupported format" errors.
    static let readable = "JPEG, PNG, TIFF, WebP, GIF, HEIF and AVIF"

    /// The suffix libvips and people expect.
    public var suffix: String {
        switch self {
        case .jpeg: "jpg"
        case .tiff: "tif"
        default: rawValue
        }
    }

    /// Formats that store 16 bits per sample; the others get 8.
    var holdsSixteenBits: Bool { self == .png || self == .tiff }

    /// A format name or file suffix, as people write it ("jpg", "JPEG", "tif", "heic").
    public init?(name: String) {
        switch name.lowercased() {
        case "jpg", "jpeg", "jpe", "jfif": self = .jpeg
        case "tif", "tiff": self = .tiff
        case "heic", "heif": self = .heif
        default:
            guard let format = ImageFormat(rawValue: name.lowercased()) else { return nil }
            self = format
        }
    }

    /// The format a libvips loader reads ("jpegload" -> jpeg); nil for formats Tessera does not
    /// write (the output then falls back to PNG).
    init?(loader: String, compression: String?) {
        switch loader {
        case "jpegload", "jpegload_source": self = .jpeg
        case "pngload", "pngload_source": self = .png
        case "tiffload", "tiffload_source": self = .tiff
        case "webpload", "webpload_source": self = .webp
        case "gifload", "gifload_source": self = .gif
        case "heifload", "heifload_source": self = compression == "av1" ? .avif : .heif
        default: return nil
        }
    }
}

/// How an output file is written.
public struct SaveOptions: Sendable, Equatable {
    /// nil: the source's format.
    public var format: ImageFormat?
    /// JPEG, WebP and HEIF/AVIF quality, 1...100.
    public var quality: Int
    /// WebP and HEIF/AVIF only.
    public var lossless: Bool

    /// Saving options: format (default the source's), lossy quality, lossless where the format has it.
    public init(format: ImageFormat? = nil, quality: Int = 90, lossless: Bool = false) {
        (self.format, self.quality, self.lossless) = (format, quality, lossless)
    }

    func write(_ image: UnsafeMutablePointer<VipsImage>, as format: ImageFormat, to path: String) -> Int32 {
        let q = Int32(min(max(quality, 1), 100)), l: Int32 = lossless ? 1 : 0
        switch format {
        case .jpeg: return tessera_vips_jpegsave(image, path, q)
        case .png: return tessera_vips_pngsave(image, path)
        case .tiff: return tessera_vips_tiffsave(image, path)
        case .webp: return tessera_vips_webpsave(image, path, q, l)
        case .gif: return tessera_vips_gifsave(image, path)
        case .heif: return tessera_vips_heifsave(image, path, q, l, 0)
        case .avif: return tessera_vips_heifsave(image, path, q, l, 1)
        }
    }
}
