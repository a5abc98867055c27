// A host of a simulated cluster on one machine: a network namespace joined to this one by a veth
// pair (so its daemon reaches the database over a network link, not loopback) with a hostname of
// its own (a UTS namespace). Where namespaces cannot be made (not root, no iproute2) it is a plain
// process on loopback, as the cluster tests' acceptance allows.

import Foundation

public final class SimulatedHost: Sendable {
    /// The host's name (what its daemon records as its host).
    public let name: String
    /// This machine's address as the host reaches it: where the database listens for it.
    public let gateway: String
    private let namespace: String?

    /// Host `index` (0-based, under 250) of the cluster `cluster` (a short tag unique to the test run).
    public init(index: Int, cluster: String) {
        let namespace = "tessera-\(cluster)-\(index)"
        let (outside, inside) = ("tsa\(cluster.prefix(6))\(index)", "tsb\(cluster.prefix(6))\(index)")
        let net = "10.213.\(index + 1)"
        let steps = [
            ["/usr/sbin/ip", "netns", "add", namespace],
            ["/usr/sbin/ip", "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", namespace],
            ["/usr/sbin/ip", "addr", "add", "\(net).1/24", "dev", outside],
            ["/usr/sbin/ip", "link", "set", outside, "up"],
            ["/usr/sbin/ip", "-n", namespace, "addr", "add", "\(net).2/24", "dev", inside],
            ["/usr/sbin/ip", "-n", namespace, "link", "set", inside, "up"],
            ["/usr/sbin/ip", "-n", namespace, "link", "set", "lo", "up"],
        ]
        let made = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            && steps.allSatisfy { spawnAndWait($0).status == 0 }
        if made {
            (self.namespace, gateway, name) = (namespace, "\(net).1", "host\(index)")
        } else {
            _ = spawnAndWait(["/usr/sbin/ip", "netns", "del", namespace])
            (self.namespace, gateway, name) = (nil, "127.0.0.1", ProcessInfo.processInfo.hostName)
        }
    }

    /// Whether this host has a network of its own (else it is a process on loopback).
    public var isolated: Bool { namespace != nil }

    /// `command` as run on this host.
    public func command(_ command: [String]) -> [String] {
        guard let namespace else { return command }
        return ["/usr/sbin/ip", "netns", "exec", namespace, "/usr/bin/unshare", "--uts", "/bin/sh", "-c",
                "hostname \(name) && exec \"$0\" \"$@\""] + command
    }

    /// Removes the namespace (and with it the veth pair).
    public func remove() {
        if let namespace { _ = spawnAndWait(["/usr/sbin/ip", "netns", "del", namespace]) }
    }
}
