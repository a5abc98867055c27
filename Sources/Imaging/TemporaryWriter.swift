// Who wrote a hidden temporary file: `.<name>.tessera-<pid>@<host>-...`. Daemons on several hosts
// share folders (PostgreSQL store), and a pid means something only on its own host: a daemon
// removes the leftovers of dead writers of its own host and never another host's files.

import Foundation

/// The writer's tag in temporary names, and whether such a name's writer is known to be dead.
public enum TemporaryWriter {
    /// `<pid>@<host>`, the host name cut to what is safe and short in a file name.
    public static let tag = "\(getpid())@\(host)"
    private static let host = String(ProcessInfo.processInfo.hostName.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }.prefix(24))

    /// Whether `name` is a temporary (`.<name>.tessera-<pid>[@<host>]-...`) whose writer was a
    /// process of this host that no longer runs. Names without a host are from before hosts were
    /// named: this host's.
    public static func isDead(_ name: String) -> Bool {
        guard name.hasPrefix("."), let marker = name.range(of: ".tessera-", options: .backwards) else { return false }
        let rest = name[marker.upperBound...]
        guard let pid = Int32(rest.prefix { $0.isNumber }) else { return false }
        let afterPid = rest.drop { $0.isNumber }
        if afterPid.hasPrefix("@") {
            guard afterPid.dropFirst().hasPrefix(host + "-") else { return false }
        }
        return kill(pid, 0) != 0 && errno == ESRCH
    }
}
