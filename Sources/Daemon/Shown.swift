// Names as logs, error files and JSON show them: one line of valid UTF-8 whatever the name holds
// (a newline, a tab, bytes that are not UTF-8), escaped the way a shell user reads them.

import Foundation
import Imaging

/// Text made safe to show on one line (file names in logs, error files and the CLI's tables).
public enum Shown {
    /// `text` with control characters escaped (\n, \t, \r, \u{..}) and bytes that were not
    /// UTF-8 (see FileName.decode) as \xNN.
    public static func name(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if let raw = FileName.rawByte(scalar) { out += "\\x" + String(format: "%02x", raw); continue }
                if scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}" {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
