// An image file opened for reading and normalised the way every style expects it: upright (EXIF
// orientation applied), sRGB (CMYK and ICC-tagged images converted), 8 or 16 bits per sample as
// the file's format says, grey or RGB colour bands plus an optional alpha band. Pixels are
// decoded on demand, top to bottom; images that need random access (a rotation, an interlaced
// PNG) are decoded first, into a scratch file (SpilledPixels), not into memory.

import CVips
import Foundation

/// An image opened for streaming through libvips: oriented, in sRGB, 8 or 16 bits, alpha split off, read by rows.
public final class ImageSource: @unchecked Sendable {
    public static let defaultPixelLimit = 250_000_000

    public let url: URL
    public let width: Int
    public let height: Int
    /// 1 (grey) or 3 (RGB).
    public let colourBands: Int
    public let hasAlpha: Bool
    /// 8 or 16, from the sample format of the file.
    public let bitDepth: Int
    /// The format the file was read as; nil for formats Tessera does not write.
    public let format: ImageFormat?
    /// Pixels per millimetre, carried to the output.
    let resolution: (x: Double, y: Double)
    /// The normalised pipeline; shared read-only, one region per reading thread.
    let image: UnsafeMutablePointer<VipsImage>
    /// The source's own duplicate of the file's descriptor, which libvips opens through /proc.
    private let descriptor: Int32
    /// The source this one was derived from (resized): libvips reads through it, and may reopen
    /// the file by its /proc/self/fd name when idle, so the parent's descriptor must stay open.
    private let parent: ImageSource?
    /// Where the decoded pixels of a rotated image or interlaced PNG are kept (nil: streamed).
    private let spilled: SpilledPixels?
    private let scratch: ScratchFolder
    /// Bytes stylizing this image is expected to hold at its peak (see MemoryNeed).
    public let memoryNeed: Int

    public var bands: Int { colourBands + (hasAlpha ? 1 : 0) }
    public var pixelCount: Int { width * height }

    /// Opens the image file at `url` (following a symbolic link: the CLI's user named it), refusing
    /// what is not a regular file without blocking on it (a FIFO), unreadable files and images
    /// over `pixelLimit` pixels before decoding them.
    public convenience init(url: URL, pixelLimit: Int = ImageSource.defaultPixelLimit, scratch: ScratchFolder = .temporary) throws {
        let fd = open(url.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw ImageError(url.path, errno == ENOENT ? "no such file" : String(cString: strerror(errno))) }
        defer { close(fd) }
        try self.init(descriptor: fd, path: url.path, pixelLimit: pixelLimit, scratch: scratch)
    }

    /// Opens the image in the file open at `descriptor` (the source keeps a duplicate; the caller
    /// closes its own), named `path` in errors. libvips reads it through /proc/self/fd, so a
    /// rename or a symbolic link planted under the name after the caller opened it changes nothing.
    /// Once the header is read, `admit` hears the image's memory need (it may wait for room, or
    /// throw to refuse); only then is anything decoded, into `scratch` if the image needs random access.
    public init(descriptor: Int32, path: String, pixelLimit: Int = ImageSource.defaultPixelLimit,
                scratch: ScratchFolder = .temporary, admit: (Int) throws -> Void = { _ in }) throws {
        self.url = URL(fileURLWithPath: path)
        self.scratch = scratch
        parent = nil
        guard Vips.ready else { throw ImageError(path, "libvips failed to initialise") }
        var s = stat()
        guard fstat(descriptor, &s) == 0 else { throw ImageError(path, String(cString: strerror(errno))) }
        guard (s.st_mode & S_IFMT) == S_IFREG else { throw ImageError(path, "not a regular file (\(fileKind(s.st_mode)))") }
        guard s.st_size > 0 else { throw ImageError(path, "empty file") }
        let own = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard own >= 0 else { throw ImageError(path, String(cString: strerror(errno))) }
        self.descriptor = own
        let opened = "/proc/self/fd/\(own)"
        var head = [UInt8](repeating: 0, count: 32)
        let got = head.withUnsafeMutableBytes { pread(own, $0.baseAddress, 32, 0) }
        guard let signature = ImageFormat(signature: Array(head.prefix(max(0, got)))) else {
            close(own)
            throw ImageError(path, "unsupported format (Tessera reads \(ImageFormat.readable))")
        }
        var image: UnsafeMutablePointer<VipsImage>?
        var owned = true
        defer { if owned { if let image { tessera_vips_unref(image) }; close(own) } }
        func replace(_ step: (UnsafeMutablePointer<VipsImage>, inout UnsafeMutablePointer<VipsImage>?) -> Int32) throws {
            var out: UnsafeMutablePointer<VipsImage>?
            try Vips.checked(path) { step(image!, &out) == 0 && out != nil }
            tessera_vips_unref(image!)
            image = out
        }
        try Vips.checked(path) { image = tessera_vips_load(signature.loader, opened, 1, 1); return image != nil }

        let (w, h) = (Int(vips_image_get_width(image!)), Int(vips_image_get_height(image!)))
        guard w * h <= pixelLimit else {
            throw ImageError(path, "\(w)x\(h) is \(megapixels(w * h)) megapixels, over the limit of \(megapixels(pixelLimit)) megapixels")
        }
        let loader = Vips.string(image!, "vips-loader") ?? ""
        format = ImageFormat(loader: loader, compression: Vips.string(image!, "heif-compression"))

        func int(_ name: String) -> Int32 {
            var value: Int32 = 0
            if vips_image_get_typeof(image!, name) != 0 { vips_image_get_int(image!, name, &value) }
            return value
        }
        let sixteen = vips_image_get_format(image!) == VIPS_FORMAT_USHORT
        guard sixteen || vips_image_get_format(image!) == VIPS_FORMAT_UCHAR else {
            throw ImageError(path, "unsupported sample format (Tessera reads 8- and 16-bit images)")
        }
        // Rotating reads the stored image in another order than it is decoded, and an interlaced
        // PNG is decoded in seven passes over all of it: both are decoded into a scratch file first.
        let rotated = (2...8).contains(int("orientation")), interlacedPNG = signature == .png && int("interlaced") == 1
        memoryNeed = MemoryNeed.bytes(format: format ?? .png, width: w, height: h, bands: Int(vips_image_get_bands(image!)),
                                      sampleBytes: sixteen ? 2 : 1, progressiveJPEG: signature == .jpeg && int("interlaced") == 1,
                                      chromaSubsample: Vips.string(image!, "jpeg-chroma-subsample"), decodedFirst: rotated || interlacedPNG)
        try admit(memoryNeed)

        if interlacedPNG {
            spilled = try SpilledPixels.interlacedPNG(own, header: image!, in: scratch, path: path)
        } else if rotated {
            spilled = try SpilledPixels.rows(of: image!, in: scratch, path: path)
        } else {
            spilled = nil
        }
        if let spilled {
            let pixels = try spilled.image(like: image!)
            tessera_vips_unref(image!)
            image = pixels
        }
        if rotated { try replace { tessera_vips_autorot($0, &$1) } }

        let cmyk = vips_image_get_interpretation(image!) == VIPS_INTERPRETATION_CMYK
        if cmyk {
            try replace { tessera_vips_icc_transform($0, &$1, "srgb", sixteen ? 16 : 8, "cmyk") }
        } else if vips_image_get_bands(image!) >= 3, let profile = Vips.blob(image!, "icc-profile-data"), !isSRGB(profile) {
            try replace { tessera_vips_icc_transform($0, &$1, "srgb", sixteen ? 16 : 8, nil) }
        }
        // Grey images with a grey ICC profile are left as they are: converting would make them RGB.

        let bands = Int(vips_image_get_bands(image!))
        guard (1...4).contains(bands) else { throw ImageError(path, "\(bands) bands: not a grey or RGB image") }
        (width, height) = (Int(vips_image_get_width(image!)), Int(vips_image_get_height(image!)))
        hasAlpha = bands == 2 || bands == 4
        colourBands = bands - (hasAlpha ? 1 : 0)
        bitDepth = sixteen ? 16 : 8
        resolution = (vips_image_get_xres(image!), vips_image_get_yres(image!))
        self.image = image!
        owned = false
    }

    private init(_ other: ImageSource, image: UnsafeMutablePointer<VipsImage>) {
        (url, colourBands, hasAlpha, bitDepth, format, resolution) =
            (other.url, other.colourBands, other.hasAlpha, other.bitDepth, other.format, other.resolution)
        (parent, spilled, scratch, memoryNeed) = (other, other.spilled, other.scratch, other.memoryNeed)
        descriptor = fcntl(other.descriptor, F_DUPFD_CLOEXEC, 0)
        (width, height) = (Int(vips_image_get_width(image)), Int(vips_image_get_height(image)))
        self.image = image
    }

    deinit {
        tessera_vips_unref(image)
        close(descriptor)
    }

    /// The same file opened again (for a second pass while this source is read): the same bytes
    /// even if the name now belongs to another file.
    public func reopened() throws -> ImageSource {
        try ImageSource(descriptor: descriptor, path: url.path, pixelLimit: pixelCount, scratch: scratch)
    }

    /// This image resized by libvips so its long side is `longSide` pixels (lanczos3 down,
    /// bicubic up), the short side in proportion and at least 16 pixels (one tile core), each
    /// side at most 16 times its own length. Reads the same pixels as this source, so a
    /// sequential source gives either this or the resized image, not both.
    public func resized(longSide: Int) throws -> ImageSource {
        let (w, h) = resizedSize(width: width, height: height, longSide: longSide)
        return try resized(width: w, height: h)
    }

    /// This image resized by libvips to exactly `width` x `height` (each side scaled on its own).
    public func resized(width w: Int, height h: Int) throws -> ImageSource {
        var out: UnsafeMutablePointer<VipsImage>?
        try Vips.checked(url.path) { tessera_vips_resize_to(image, &out, Int32(w), Int32(h)) == 0 && out != nil }
        return ImageSource(self, image: out!)
    }

    /// Every pixel, [height * width * bands] samples scaled to [0, 1] (for small images and training).
    public func readAll() throws -> [Float] {
        let reader = RowReader(self)
        var all = [Float](repeating: 0, count: width * height * bands)
        try all.withUnsafeMutableBufferPointer { try reader.read(rows: 0..<height, into: $0.baseAddress!) }
        return all
    }
}

/// Reads rows of an image through one region (a region belongs to one thread): 8- and 16-bit
/// samples scaled to [0, 1], float samples as they are.
final class RowReader {
    private let image: UnsafeMutablePointer<VipsImage>
    private let path: String
    private let region: UnsafeMutablePointer<VipsRegion>

    convenience init(_ source: ImageSource) { self.init(source.image, path: source.url.path) }

    init(_ image: UnsafeMutablePointer<VipsImage>, path: String) {
        (self.image, self.path) = (image, path)
        region = vips_region_new(image)
    }

    deinit { tessera_vips_unref(region) }

    /// Decodes the rows above `row` 64 at a time and keeps none: the first request far down a
    /// sequential image (a band, a resumed render), asked at once, makes libvips hold every row
    /// above it meanwhile (1 GB for a band at the foot of a 20000 x 20000 image).
    func walk(to row: Int) throws {
        let w = Int32(vips_image_get_width(image))
        for top in stride(from: 0, to: row, by: 64) {
            var rect = VipsRect(left: 0, top: Int32(top), width: w, height: Int32(min(64, row - top)))
            try Vips.checked(path) { vips_region_prepare(region, &rect) == 0 }
        }
    }

    /// Decodes `rows` into `destination` as floats, row-major, all bands.
    func read(rows: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws {
        guard !rows.isEmpty else { return }
        let w = Int(vips_image_get_width(image)), samples = w * Int(vips_image_get_bands(image))
        let format = vips_image_get_format(image)
        // Strips of 64 rows keep libvips' buffers small on wide images.
        for start in stride(from: rows.lowerBound, to: rows.upperBound, by: 64) {
            let n = min(64, rows.upperBound - start)
            var rect = VipsRect(left: 0, top: Int32(start), width: Int32(w), height: Int32(n))
            try Vips.checked(path) { vips_region_prepare(region, &rect) == 0 }
            for y in 0..<n {
                let to = destination + (start - rows.lowerBound + y) * samples
                let from = UnsafeRawPointer(tessera_region_addr(region, 0, Int32(start + y))!)
                switch format {
                case VIPS_FORMAT_USHORT:
                    let p = from.assumingMemoryBound(to: UInt16.self)
                    for i in 0..<samples { to[i] = Float(p[i]) / 65535 }
                case VIPS_FORMAT_FLOAT:
                    to.update(from: from.assumingMemoryBound(to: Float.self), count: samples)
                default:
                    let p = from.assumingMemoryBound(to: UInt8.self)
                    for i in 0..<samples { to[i] = Float(p[i]) / 255 }
                }
            }
        }
    }
}

/// The size `ImageSource.resized(longSide:)` gives a width x height image.
func resizedSize(width: Int, height: Int, longSide: Int) -> (width: Int, height: Int) {
    let scale = Double(longSide) / Double(max(width, height))
    func side(_ n: Int) -> Int { min(16 * n, max(min(16, 16 * n), Int((Double(n) * scale).rounded()))) }
    return (side(width), side(height))
}

private func megapixels(_ pixels: Int) -> String {
    let mp = Double(pixels) / 1e6
    return mp >= 10 ? "\(Int(mp.rounded()))" : String(format: "%.1f", mp)
}
