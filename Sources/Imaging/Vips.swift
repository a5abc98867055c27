// libvips set-up, errors and metadata: initialised once per process, errors read from its global
// buffer as one line.

import CVips

enum Vips {
    /// Runs vips_init once, on first use.
    static let ready: Bool = vips_init("tessera") == 0

    /// libvips' last error as one line, clearing the buffer.
    static func lastError() -> String {
        let text = String(cString: vips_error_buffer())
        vips_error_clear()
        return text.split(separator: "\n").first.map(String.init) ?? "unknown libvips error"
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
