// Log lines: the message first, then key=value; syslog priorities for the journal, which is
// recognised by JOURNAL_STREAM naming stderr.

@testable import Daemon
import Foundation
import Logging
import Testing

@Suite struct DaemonLogHandlerTests {
    @Test func journalLinesCarryTheirPriorityAndTheMessageComesFirst() {
        let handler = DaemonLogHandler(level: .info, journal: true)
        #expect(handler.line(.warning, "job 3 will be retried", ["job": "3", "file": "a.png"], at: Date()) == "<4>job 3 will be retried file=a.png job=3")
        #expect([Logger.Level.debug, .info, .notice, .warning, .error, .critical].map(DaemonLogHandler.priority) == [7, 6, 5, 4, 3, 2])
        let plain = DaemonLogHandler(level: .info, journal: false).line(.error, "failed", ["job": "1"], at: Date(timeIntervalSince1970: 0))
        #expect(plain == "1970-01-01T00:00:00Z error failed job=1")
    }

    @Test func theJournalIsRecognisedByItsStream() {
        var s = stat()
        #expect(fstat(2, &s) == 0)
        #expect(DaemonLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(s.st_dev):\(s.st_ino)"]))
        #expect(!DaemonLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(s.st_dev):\(s.st_ino + 1)"]))
        #expect(!DaemonLogHandler.stderrIsJournal(environment: [:]))
    }
}
