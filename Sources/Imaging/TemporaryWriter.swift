// Who wrote a hidden temporary file: `.<name>.tessera-<pid>@<host>-...`. Daemons on several hosts
// share folders (PostgreSQL store), and a pid means something only on its own host: a daemon
// judges this host's writers by their pids, another host's by whether the store still sees it.

import Foundation

/// The writer's tag in temporary names, and who the writer of such a name was.
public enum TemporaryWriter {
    /// `<pid>@<host>`.
    public static let tag = "\(getpid())@\(host)"
    /// This host's name in temporary names.
    public static let host = shortName(of: ProcessInfo.processInfo.hostName)

    /// The name a host goes by in temporary names: its letters and digits, at most 24 (a "-"
    /// ends it in the name).
    public static func shortName(of host: String) -> String {
        String(host.filter { $0.isASCII && ($0.isLetter || $0.isNumber) }.prefix(24))
    }

    /// The writer named in a temporary name (`.<name>.tessera-<pid>[@<host>]-...`): its pid and
    /// host (this host for names from before hosts were named).
    public static func writer(of name: String) -> (pid: Int32, host: String)? {
        guard name.hasPrefix("."), let marker = name.range(of: ".tessera-", options: .backwards) else { return nil }
        let rest = name[marker.upperBound...]
        guard let pid = Int32(rest.prefix { $0.isNumber }) else { return nil }
        let afterPid = rest.drop { $0.isNumber }
        guard afterPid.hasPrefix("@") else { return (pid, host) }
        return (pid, String(afterPid.dropFirst().prefix { $0 != "-" }))
    }

    /// Whether a writer of this host no longer runs.
    public static func isDead(pid: Int32) -> Bool { kill(pid, 0) != 0 && errno == ESRCH }
}
