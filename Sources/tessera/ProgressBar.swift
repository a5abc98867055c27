// A one-line progress bar on a terminal (percentage, rate, ETA); silent when stderr is not one.

import Foundation

final class ProgressBar: @unchecked Sendable {
    private let unit: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let enabled = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()

    init(unit: String) { self.unit = unit }

    func update(_ done: Int, of total: Int) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard done >= total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30, filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = String(format: "\r[%@] %3.0f%%  %d/%d %@  %.0f %@/s  ETA %@", bar, fraction * 100, done, total, unit,
                          rate, unit, duration(eta))
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Ends the bar's line.
    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}

func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s / 60 % 60))m" : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
}

/// A status line redrawn in place on a terminal; `keep` lines stay (and are the only ones printed
/// when stderr is not a terminal, so logs get one line per epoch).
final class StatusLine {
    private let terminal = isatty(STDERR_FILENO) == 1
    private var lastDraw = Date.distantPast

    func show(_ text: String, keep: Bool) {
        let now = Date()
        if terminal {
            guard keep || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
            lastDraw = now
            FileHandle.standardError.write(Data("\r\u{1B}[K\(text)\(keep ? "\n" : "")".utf8))
        } else if keep {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }
}
