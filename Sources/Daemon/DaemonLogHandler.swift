// The daemon's log lines on stderr: the message first, then its key=value pairs, sorted. Under
// systemd (stderr is the journal stream that JOURNAL_STREAM names) each line starts with its
// syslog priority, `<4>` for a warning, which journald strips and files, so `journalctl -p
// warning` filters and the journal adds the time; anywhere else a line starts with the time and
// the level.

import Foundation
import Logging

/// Log lines for a terminal, a file or the journal, at a chosen level.
public struct DaemonLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    /// Whether lines carry syslog priorities for journald instead of a time and a level.
    let journal: Bool

    public init(level: Logger.Level, journal: Bool) { (logLevel, self.journal) = (level, journal) }

    /// Whether stderr is the journal's stream: JOURNAL_STREAM (device:inode) names it.
    public static func stderrIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        var s = stat()
        guard fstat(2, &s) == 0 else { return false }
        return stream == "\(s.st_dev):\(s.st_ino)"
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra = event.metadata { all.merge(extra) { $1 } }
        FileHandle.standardError.write(Data((line(event.level, "\(event.message)", all, at: Date()) + "\n").utf8))
    }

    /// One line: `<N>message k=v` for the journal, `time level message k=v` elsewhere.
    func line(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata, at time: Date) -> String {
        let pairs = metadata.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        if journal { return "<\(Self.priority(level))>\(message)\(pairs)" }
        return "\(time.formatted(.iso8601)) \(level) \(message)\(pairs)"
    }

    /// syslog priorities (RFC 5424): 7 debug, 6 info, 5 notice, 4 warning, 3 error, 2 critical.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
