// What stylizing one image costs in memory, from its header, before any pixel is decoded: the
// daemon admits a job only when its memory budget has room for it. Measured with
// `tessera daemon` and the identity style on one AMD EPYC (Zen 5) with libvips 8.14, peak RSS
// over the idle daemon's (about 75 MB), at 4 and 16 megapixels:
// - every image: the renderer's rows and libvips' strip buffers, 12-15 KB per column of width;
// - decoders and encoders that hold the whole image: AVIF 43 bytes per pixel (the AV1 encoder),
//   HEIF 32, WebP 18, GIF 15 (decoded whole, written whole);
// - a progressive JPEG: libjpeg's coefficients, 2 bytes per sample of every component at its own
//   resolution (3 bytes per pixel at 4:2:0, 6 at 4:4:4); a baseline JPEG, PNG or TIFF streams.
// Interlaced PNGs and rotated images are decoded into a scratch file (SpilledPixels) before the
// render starts: their decoder's memory is given back before the rows are taken, so they need the
// larger of the two, not the sum. An interlaced PNG's decoder holds a few rows.

/// An image's memory need, in bytes, while it is stylized.
enum MemoryNeed {
    static func bytes(format: ImageFormat, width: Int, height: Int, bands: Int, sampleBytes: Int,
                      progressiveJPEG: Bool, chromaSubsample: String?, decodedFirst: Bool) -> Int {
        let pixels = Double(width * height), rows = 32 << 20 + 16 * 1024 * width
        let perPixel: Double = switch format {
        case .avif: 44
        case .heif: 33
        case .webp: 18
        case .gif: 16
        case .jpeg where progressiveJPEG: 2 * jpegComponentSamples(bands: bands, subsample: chromaSubsample)
        default: 0
        }
        // Encoders hold the whole output while the rows are rendered, whatever the decoding did.
        let encoder = [.avif, .heif, .webp, .gif].contains(format)
        let whole = Int(perPixel * pixels) * sampleBytes
        return decodedFirst && !encoder ? max(rows, whole) : rows + whole
    }

    /// Samples per pixel over a JPEG's components, each at its own resolution ("4:2:0": 1 + 2/4).
    private static func jpegComponentSamples(bands: Int, subsample: String?) -> Double {
        guard bands >= 3 else { return Double(bands) }
        let chroma: Double = switch subsample {
        case "4:2:0", "4:1:1": 0.25
        case "4:2:2", "4:4:0": 0.5
        default: 1
        }
        return 1 + Double(bands - 1) * chroma
    }
}
