// A PostgreSQL server of the tests' own: a cluster made by initdb in a temporary folder, listening
// on loopback (and any addresses asked for) at a free port, trusting those connections, stopped
// when the test process exits.
// Debian's postgresql package provides the programs (`.ci/run` installs it); as root, the cluster
// runs as the postgres user, since the server refuses to run as root.

import Foundation
import Synchronization

public final class PostgresServer: Sendable {
    public let port: Int
    let folder: String
    let binaries: String
    let options: String

    /// The server the store tests share, started on first use.
    public static func shared() throws -> PostgresServer { try started.get() }
    private static let started = Result { try PostgresServer() }

    /// A server of its own that also listens on `addresses` (which must exist) and trusts
    /// connections from their /24 networks.
    public init(listening addresses: [String] = []) throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.sorted(by: { (Int($0) ?? 0) < (Int($1) ?? 0) }).last else {
            throw ServerError("no PostgreSQL under /usr/lib/postgresql: apt-get install -y postgresql (the test command does)")
        }
        binaries = "/usr/lib/postgresql/\(version)/bin"
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        port = Self.freePort()
        if getuid() == 0 {
            guard let user = getpwnam("postgres") else { throw ServerError("running as root and there is no postgres user to run the server as") }
            chown(folder, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        options = "-p \(port) -k \(folder) -c listen_addresses=\((["127.0.0.1"] + addresses).joined(separator: ",")) -c fsync=off -c max_connections=200"
        try run("\(binaries)/initdb", ["-D", "\(folder)/data", "-U", "tessera", "--auth=trust", "-E", "UTF8", "--no-sync"])
        let hba = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(folder)/data/pg_hba.conf"))
        try hba.seekToEnd()
        for address in addresses { try hba.write(contentsOf: Data("host all all \(address)/24 trust\n".utf8)) }
        try hba.close()
        try start()
        let stop = [binaries + "/pg_ctl", "-D", "\(folder)/data", "-m", "immediate", "stop"]
        running.withLock { servers in
            if servers.isEmpty { atexit { stopServers() } }
            servers.append((stop: stop, folder: folder))
        }
    }

    private func start() throws {
        try run("\(binaries)/pg_ctl", ["-D", "\(folder)/data", "-l", "\(folder)/server.log", "-w", "-t", "60", "start", "-o", options])
    }

    /// A new empty database on the server, as a `store` URL.
    public func database(address: String = "127.0.0.1") throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try psql("CREATE DATABASE \(name)")
        return url(name, address: address)
    }

    /// The `store` URL of database `name` through `address`.
    public func url(_ name: String, address: String = "127.0.0.1") -> String {
        "postgres://tessera@\(address):\(port)/\(name)?sslmode=disable"
    }

    /// Runs SQL on the server's maintenance database.
    public func psql(_ sql: String, database: String = "postgres") throws {
        try run("\(binaries)/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "tessera", "-d", database, "-v", "ON_ERROR_STOP=1", "-qc", sql])
    }

    /// Stops the server (fast: connections are cut) and starts it again on the same port.
    public func restart(pause: Double = 0) throws {
        try run("\(binaries)/pg_ctl", ["-D", "\(folder)/data", "-m", "fast", "-w", "stop"])
        if pause > 0 { usleep(UInt32(pause * 1_000_000)) }
        try start()
    }

    private func run(_ program: String, _ arguments: [String]) throws {
        let (code, text) = runAsServerUser([program] + arguments, in: folder)
        guard code == 0 else {
            throw ServerError("\((program as NSString).lastPathComponent) \(arguments.joined(separator: " ")): exit \(code): \(text)")
        }
    }

    private static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A test server that could not be made or run, with the reason.
public struct ServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

// The servers the exit handler stops and removes.
private let running = Mutex<[(stop: [String], folder: String)]>([])

private func stopServers() {
    for server in running.withLock({ $0 }) {
        _ = runAsServerUser(server.stop, in: "/")
        _ = runAsServerUser(["/bin/rm", "-rf", server.folder], in: "/")
    }
}

/// Runs a program to its end as the postgres user when root (the server refuses to run as root),
/// in `folder` (env -C: the server's programs want a working folder their user can read).
private func runAsServerUser(_ command: [String], in folder: String) -> (Int32, String) {
    let user = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
    let ran = spawnAndWait(user + ["/usr/bin/env", "-C", folder] + command)
    return (ran.status, ran.output)
}
