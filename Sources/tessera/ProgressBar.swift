// A one-line progress bar on a terminal (percentage, rate, ETA); silent when stderr is not one.

import Foundation

final class ProgressBar: @unchecked Sendable { // state under `lock`
    private let unit: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let enabled = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()
    /// The file being worked on (1-based) of how many, when there are several.
    private var file = (index: 1, count: 1, name: "")
    /// Units of the files finished before this one (for the rate over the whole run).
    private var before = 0, currentTotal = 0, currentDone = 0
    /// The fraction last shown: the bar never goes backwards.
    private var shown = 0.0
    private var drawn = false

    init(unit: String) { self.unit = unit }

    /// Starts file `index` of `count` (several inputs: the line says which).
    func file(_ index: Int, of count: Int, _ name: String) {
        lock.withLock {
            before += currentTotal
            (currentTotal, currentDone) = (0, 0)
            file = (index, count, name)
        }
    }

    func update(_ done: Int, of total: Int) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        (currentDone, currentTotal) = (done, total)
        let now = Date()
        guard done >= total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let fraction = (Double(file.index - 1) + (total > 0 ? Double(done) / Double(total) : 1)) / Double(file.count)
        shown = max(shown, fraction)
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(before + done) / elapsed : 0
        let eta = shown > 0 ? elapsed * (1 - shown) / shown : 0
        let which = file.count > 1 ? "  \(file.index)/\(file.count) \(file.name)" : "  \(done)/\(total) \(unit)"
        let tail = String(format: "%@  %.0f %@/s  ETA %@", which, rate, unit, duration(eta))
        let columns = terminalColumns()
        let width = max(10, min(30, columns - tail.count - 9)), filled = Int(shown * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = String(String(format: "[%@] %3.0f%%", bar, shown * 100) + tail).prefix(max(1, columns - 1))
        // \r and erase-to-end: a shorter line leaves nothing of the longer one before it.
        FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
        drawn = true
    }

    /// Erases the bar (before a message line), which the next update draws again.
    func clear() {
        guard enabled else { return }
        lock.withLock { if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)); drawn = false } }
    }

    /// Ends the bar's line.
    func finish() {
        guard enabled else { return }
        lock.withLock { if drawn { FileHandle.standardError.write(Data("\n".utf8)); drawn = false } }
    }

    /// The terminal's width (COLUMNS, else 80 when it cannot be asked).
    private func terminalColumns() -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 80
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
