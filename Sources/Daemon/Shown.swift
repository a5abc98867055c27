// Names as logs, error files and JSON show them: one line of valid UTF-8 whatever the name holds
// (a newline, a tab, bytes that are not UTF-8), escaped the way a shell user reads them.

/// Text made safe to show on one line (file names in logs, error files and the CLI's tables).
public enum Shown {
    /// `text` with control characters escaped (\n, \t, \r, \u{..}).
    public static func name(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}" {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// A name's raw bytes: valid UTF-8 runs as text (escaped as above), other bytes as \xNN.
    static func bytes(_ bytes: [UInt8]) -> String {
        var out = "", run: [UInt8] = []
        func flush() { if !run.isEmpty { out += name(String(decoding: run, as: UTF8.self)); run = [] } }
        var i = 0
        while i < bytes.count {
            let length = bytes[i] < 0x80 ? 1 : bytes[i] >> 5 == 0b110 ? 2 : bytes[i] >> 4 == 0b1110 ? 3 : bytes[i] >> 3 == 0b11110 ? 4 : 0
            if length > 0, i + length <= bytes.count, String(validating: bytes[i..<(i + length)], as: UTF8.self) != nil {
                run += bytes[i..<(i + length)]
                i += length
            } else {
                flush()
                out += "\\x" + (bytes[i] < 16 ? "0" : "") + String(bytes[i], radix: 16)
                i += 1
            }
        }
        flush()
        return out
    }
}
