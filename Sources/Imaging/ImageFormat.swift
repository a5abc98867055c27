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

    /// The format a file's first bytes say (its signature), whatever its name; nil for anything
    /// else. At least 32 bytes, fewer if the file is shorter.
    init?(signature b: [UInt8]) {
        func at(_ offset: Int, _ text: String) -> Bool { b.count >= offset + text.utf8.count && Array(b[offset..<(offset + text.utf8.count)]) == Array(text.utf8) }
        if b.starts(with: [0xff, 0xd8, 0xff]) { self = .jpeg }
        else if b.starts(with: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) { self = .png }
        else if b.starts(with: [0x49, 0x49, 0x2a, 0x00]) || b.starts(with: [0x4d, 0x4d, 0x00, 0x2a])
            || b.starts(with: [0x49, 0x49, 0x2b, 0x00]) || b.starts(with: [0x4d, 0x4d, 0x00, 0x2b]) { self = .tiff } // BigTIFF too
        else if at(0, "RIFF") && at(8, "WEBP") { self = .webp }
        else if at(0, "GIF87a") || at(0, "GIF89a") { self = .gif }
        else if at(4, "ftyp"), ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif", "avis"].contains(where: { brand in
            stride(from: 8, through: min(b.count, 32) - 4, by: 4).contains { at($0, brand) } }) {
            self = at(8, "avif") || at(8, "avis") ? .avif : .heif
        } else { return nil }
    }

    /// The libvips loader for the format's files.
    var loader: String {
        switch self {
        case .jpeg: "jpegload"
        case .png: "pngload"
        case .tiff: "tiffload"
        case .webp: "webpload"
        case .gif: "gifload"
        case .heif, .avif: "heifload"
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
        case .jpeg: return tessera_vips_jpegsave(image, path, q, 0)
        case .png: return tessera_vips_pngsave(image, path, 0)
        case .tiff: return tessera_vips_tiffsave(image, path)
        case .webp: return tessera_vips_webpsave(image, path, q, l)
        case .gif: return tessera_vips_gifsave(image, path)
        case .heif: return tessera_vips_heifsave(image, path, q, l, 0)
        case .avif: return tessera_vips_heifsave(image, path, q, l, 1)
        }
    }
}
