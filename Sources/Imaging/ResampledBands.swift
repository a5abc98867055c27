// Channels a network computed at a working size, enlarged by libvips to the full image's size
// (bicubic) and read by rows as the renderer needs them: memory holds the small channels and
// libvips' row buffers, never the full-size channels.

import CVips
import ConvCore

/// A small [1, h, w, k] map of floats resized by libvips to width x height, read by rows on demand.
public final class ResampledBands: @unchecked Sendable {
    public let width: Int
    public let height: Int
    public let bands: Int
    private let image: UnsafeMutablePointer<VipsImage>
    private let path: String

    /// `path` names the image the channels belong to, for errors.
    public init(_ small: Tensor, width: Int, height: Int, path: String) throws {
        guard Vips.ready else { throw ImageError(path, "libvips failed to initialise") }
        let (h, w, k) = (small.shape[1], small.shape[2], small.shape[3])
        let memory = small.scalars.withUnsafeBytes {
            vips_image_new_from_memory_copy($0.baseAddress, $0.count, Int32(w), Int32(h), Int32(k), VIPS_FORMAT_FLOAT)
        }
        guard let memory else { throw ImageError(path, Vips.lastError()) }
        defer { tessera_vips_unref(memory) }
        var out: UnsafeMutablePointer<VipsImage>?
        try Vips.checked(path) { tessera_vips_resize_to(memory, &out, Int32(width), Int32(height)) == 0 && out != nil }
        (self.image, self.width, self.height, self.bands, self.path) = (out!, width, height, k, path)
    }

    deinit { tessera_vips_unref(image) }

    /// Rows `rows` (clamped to the image) as [rows.count, width, bands] floats into `destination`.
    /// Each call reads through a region of its own, so any thread may call it.
    public func read(rows: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws {
        try RowReader(image, path: path).read(rows: rows.clamped(to: 0..<height), into: destination)
    }
}
