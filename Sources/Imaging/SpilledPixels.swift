// Images that need random access are decoded once into an unnamed file and read back from it by
// pread, in whatever order the pipeline asks: a rotation reads the stored image column by column,
// and libvips would first decode the whole image into memory or into a temporary file under
// $TMPDIR (outside the daemon's folders); an interlaced PNG arrives in seven passes over the whole
// image, which libvips always holds in memory (600 MB for 200 megapixels of RGB). The file is
// made with O_TMPFILE, so it has no name and goes with its last descriptor, even after a kill -9;
// its pages live in the page cache, which the kernel can write out, not in the process.

import CLinux
import CPNG
import CVips
import Foundation

/// A folder for decoded pixels: by path (the CLI: $TMPDIR), or by an open descriptor (the daemon's
/// work folder, never looked up by name again).
public struct ScratchFolder: Sendable {
    /// What open(2) is given.
    let opened: String
    /// What messages call it.
    let name: String

    public init(path: String) { (opened, name) = (path, path) }
    public init(descriptor: Int32, path: String) { (opened, name) = ("/proc/self/fd/\(descriptor)", path) }
    public static var temporary: ScratchFolder { ScratchFolder(path: NSTemporaryDirectory()) }
}

/// A decoded image in an unnamed scratch file, served to libvips as a random-access image.
final class SpilledPixels: @unchecked Sendable {
    private let descriptor: Int32
    private let rowBytes: Int
    private let height: Int
    private let path: String

    /// Decodes into a new scratch file through `fill`, which gets its descriptor and writes
    /// `rowBytes` x `height` bytes, row-major.
    init(in scratch: ScratchFolder, rowBytes: Int, height: Int, path: String, fill: (Int32) throws -> Void) throws {
        var fd = tessera_open_unnamed(scratch.opened)
        if fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR) { // no O_TMPFILE here: a name, removed at once
            var template = Array("\(scratch.opened)/.tessera-pixels-XXXXXX".utf8CString)
            fd = mkstemp(&template)
            if fd >= 0 {
                template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        }
        guard fd >= 0 else { throw ImageError(scratch.name, "cannot make a scratch file: \(String(cString: strerror(errno)))") }
        (descriptor, self.rowBytes, self.height, self.path) = (fd, rowBytes, height, path)
        // Not closed here when `fill` throws: every property is set, so deinit runs and closes it
        // (closing it here too closed whatever descriptor another thread had opened meanwhile).
        try fill(fd)
    }

    deinit { close(descriptor) }

    /// The pixels as an image with `header`'s size, bands, format and metadata. The image refers
    /// to this object without retaining it: its owner keeps both.
    func image(like header: UnsafeMutablePointer<VipsImage>) throws -> UnsafeMutablePointer<VipsImage> {
        guard let out = vips_image_new() else { throw ImageError(path, Vips.lastError()) }
        try Vips.checked(path) { tessera_vips_pipeline(out, header) == 0 }
        let me = Unmanaged.passUnretained(self).toOpaque()
        try Vips.checked(path) {
            vips_image_generate(out, nil, { region, _, _, b, _ in
                Unmanaged<SpilledPixels>.fromOpaque(b!).takeUnretainedValue().generate(region!)
            }, nil, nil, me) == 0
        }
        return out
    }

    private func generate(_ region: UnsafeMutablePointer<VipsRegion>) -> Int32 {
        let rect = region.pointee.valid
        let pixel = rowBytes / Int(vips_image_get_width(region.pointee.im))
        let count = Int(rect.width) * pixel
        for y in Int(rect.top)..<Int(rect.top + rect.height) {
            let to = tessera_region_addr(region, rect.left, Int32(y))!
            let got = pread(descriptor, to, count, off_t(y * rowBytes + Int(rect.left) * pixel))
            guard got == count else {
                tessera_vips_error("tessera", got < 0 ? "scratch file: \(String(cString: strerror(errno)))" : "scratch file is short")
                return -1
            }
        }
        return 0
    }

    /// Every row of a (sequential) image, in order, into a scratch file.
    static func rows(of image: UnsafeMutablePointer<VipsImage>, in scratch: ScratchFolder, path: String) throws -> SpilledPixels {
        let (w, h) = (Int(vips_image_get_width(image)), Int(vips_image_get_height(image)))
        let rowBytes = w * Int(vips_image_get_bands(image)) * (vips_image_get_format(image) == VIPS_FORMAT_USHORT ? 2 : 1)
        return try SpilledPixels(in: scratch, rowBytes: rowBytes, height: h, path: path) { fd in
            let region = vips_region_new(image)!
            defer { tessera_vips_unref(region) }
            for start in stride(from: 0, to: h, by: 64) {
                var rect = VipsRect(left: 0, top: Int32(start), width: Int32(w), height: Int32(min(64, h - start)))
                try Vips.checked(path) { vips_region_prepare(region, &rect) == 0 }
                for y in start..<(start + Int(rect.height)) {
                    guard pwrite(fd, tessera_region_addr(region, 0, Int32(y)), rowBytes, off_t(y * rowBytes)) == rowBytes else {
                        throw ImageError(scratch.name, writeFailure(scratch))
                    }
                }
            }
        }
    }

    /// An interlaced PNG, pass by pass (see CPNG), into a scratch file; `header` says the bands and
    /// sample size libvips reads it with.
    static func interlacedPNG(_ source: Int32, header: UnsafeMutablePointer<VipsImage>, in scratch: ScratchFolder,
                              path: String) throws -> SpilledPixels {
        let bands = Int(vips_image_get_bands(header)), sample = vips_image_get_format(header) == VIPS_FORMAT_USHORT ? 2 : 1
        let rowBytes = Int(vips_image_get_width(header)) * bands * sample
        return try SpilledPixels(in: scratch, rowBytes: rowBytes, height: Int(vips_image_get_height(header)), path: path) { fd in
            var message = [CChar](repeating: 0, count: 256)
            guard tessera_png_decode_to_file(source, fd, Int32(bands), Int32(sample), &message, message.count) == 0 else {
                let reason = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                // Writing the scratch file failed (a full disk): not the image's fault.
                if reason.hasPrefix("write:") || reason.hasPrefix("ftruncate:") || reason.hasPrefix("read back:") {
                    throw ImageError(scratch.name, reason.hasSuffix(String(cString: strerror(ENOSPC))) ? "no space left on device (\(scratch.name))" : "scratch file: \(reason)")
                }
                throw ImageError(path, reason)
            }
        }
    }
}

private func writeFailure(_ scratch: ScratchFolder) -> String {
    errno == ENOSPC ? "no space left on device (\(scratch.name))" : "scratch file: \(String(cString: strerror(errno)))"
}
