// libvips set-up, errors and metadata: initialised once per process with only the loaders of the
// formats Tessera lists, errors read as one line that belongs to the call that failed.

import CVips
import Synchronization

enum Vips {
    /// The loader classes Tessera reads with (and their file, buffer and source variants); every
    /// other loader (SVG, PDF, PPM, ImageMagick, ...) is blocked, so a file in another format,
    /// whatever its name, is "unsupported format" rather than decoded by a library nobody chose.
    static let allowedLoaders = ["VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadTiff", "VipsForeignLoadWebp",
                                 "VipsForeignLoadNsgif", "VipsForeignLoadHeif"]

    /// Runs vips_init once, on first use. libvips' own warnings (several lines each, on stderr)
    /// are turned off: every failure reaches the user as one error line instead.
    static let ready: Bool = {
        setenv("VIPS_WARNING", "0", 0)
        guard vips_init("tessera") == 0 else { return false }
        // The operation cache keys loads by file name, and /proc/self/fd/N names another file
        // once N is reused: no cache (nothing here loads the same file twice on purpose).
        vips_cache_set_max(0)
        vips_block_untrusted_set(1)
        vips_operation_block_set("VipsForeignLoad", 1)
        for loader in allowedLoaders { vips_operation_block_set(loader, 0) }
        return true
    }()

    /// Serialises the calls that can fail with reading libvips' error buffer, which is one for the
    /// whole process: without it a job reads another job's message ("VipsJpeg: Premature end of
    /// input file" about someone else's file).
    private static let errors = Mutex(())

    /// Runs `call` (a libvips call returning 0 or a pointer on success) and, if it failed, throws
    /// its own error about `path`.
    static func checked(_ path: String, _ call: () -> Bool) throws {
        let message: String? = errors.withLock { _ in
            vips_error_clear()
            return call() ? nil : lastError()
        }
        if let message { throw ImageError(path, message) }
    }

    /// libvips' last error as one line, clearing the buffer. Outside `checked` the message may be
    /// another thread's; use it only where nothing else can be failing (savers, whose input
    /// errors are recorded by the renderer first).
    static func lastError() -> String {
        let text = String(cString: vips_error_buffer())
        vips_error_clear()
        guard var line = text.split(separator: "\n").first.map(String.init) else { return "corrupt or truncated image data" }
        // Files are opened as /proc/self/fd/N (see ImageSource); the caller names the file.
        line = line.replacing(/\/proc\/self\/fd\/[0-9]+(: )?/, with: "")
        // "VipsForeignLoad: "/x/y.jpg" is not a known file format": the path is said already.
        if line.hasSuffix("is not a known file format") { return "unsupported format (Tessera reads \(ImageFormat.readable))" }
        if line.contains("operation is blocked") { return "unsupported format (Tessera reads \(ImageFormat.readable))" }
        return line
    }

    static func string(_ image: UnsafeMutablePointer<VipsImage>, _ name: String) -> String? {
        guard vips_image_get_typeof(image, name) != 0 else { return nil }
        var value: UnsafePointer<CChar>?
        guard vips_image_get_string(image, name, &value) == 0, let value else { return nil }
        return String(cString: value)
    }

    static func blob(_ image: UnsafeMutablePointer<VipsImage>, _ name: String) -> [UInt8]? {
        guard vips_image_get_typeof(image, name) != 0 else { return nil }
        var data: UnsafeRawPointer?
        var length = 0
        guard vips_image_get_blob(image, name, &data, &length) == 0, let data else { return nil }
        return Array(UnsafeRawBufferPointer(start: data, count: length))
    }

    /// libvips' built-in sRGB ICC profile.
    static let srgbProfile: [UInt8]? = {
        guard ready, let blob = tessera_vips_srgb_profile() else { return nil }
        defer { vips_area_unref(UnsafeMutableRawPointer(blob).assumingMemoryBound(to: VipsArea.self)) }
        var length = 0
        guard let data = vips_blob_get(blob, &length) else { return nil }
        return Array(UnsafeRawBufferPointer(start: data, count: length))
    }()
}
