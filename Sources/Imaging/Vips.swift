// libvips set-up, errors and metadata: initialised once per process, errors read from its global
// buffer as one line.

import CVips

enum Vips {
    /// Runs vips_init once, on first use. libvips' own warnings (several lines each, on stderr)
    /// are turned off: every failure reaches the user as one error line instead.
    static let ready: Bool = {
        setenv("VIPS_WARNING", "0", 0)
        return vips_init("tessera") == 0
    }()

    /// libvips' last error as one line, clearing the buffer.
    static func lastError() -> String {
        let text = String(cString: vips_error_buffer())
        vips_error_clear()
        guard let line = text.split(separator: "\n").first.map(String.init) else { return "corrupt or truncated image data" }
        // "VipsForeignLoad: "/x/y.jpg" is not a known file format": the path is said already.
        if line.hasSuffix("is not a known file format") { return "not an image format Tessera can read" }
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
