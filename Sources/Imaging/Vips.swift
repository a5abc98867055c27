// libvips set-up and errors: initialised once per process, errors read from its global buffer
// as one line.

import CVips
import ConvCore

enum Vips {
    /// Runs vips_init once, on first use.
    static let ready: Bool = vips_init("tessera") == 0

    /// libvips' last error as one line, clearing the buffer.
    static func lastError() -> String {
        let text = String(cString: vips_error_buffer())
        vips_error_clear()
        return text.split(separator: "\n").first.map(String.init) ?? "unknown libvips error"
    }
}
