// A PostgreSQL server of the tests' own: a cluster made by initdb in a temporary folder, listening
// on loopback at a free port, trusting local connections, stopped when the test process exits.
// Debian's postgresql package provides the programs (`.ci/run` installs it); as root, the cluster
// runs as the postgres user, since the server refuses to run as root.

import Foundation

public final class PostgresServer: Sendable {
    public let port: Int
    let folder: String
    let binaries: String

    /// The one server of this test process, started on first use.
    public static func shared() throws -> PostgresServer { try started.get() }
    private static let started = Result { try PostgresServer() }

    private init() throws {
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
        try run("\(binaries)/initdb", ["-D", "\(folder)/data", "-U", "tessera", "--auth=trust", "-E", "UTF8", "--no-sync"])
        try run("\(binaries)/pg_ctl", ["-D", "\(folder)/data", "-l", "\(folder)/server.log", "-w", "-t", "60", "start", "-o",
                                       "-p \(port) -k \(folder) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"])
        serverFolder = strdup("\(folder)/data")
        serverControl = strdup("\(binaries)/pg_ctl")
        serverAsRoot = getuid() == 0
        atexit { stopServer() }
    }

    /// A new empty database on the server, as a `store` URL.
    public func database() throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try psql("CREATE DATABASE \(name)")
        return "postgres://tessera@127.0.0.1:\(port)/\(name)?sslmode=disable"
    }

    /// Runs SQL on the server's maintenance database.
    public func psql(_ sql: String, database: String = "postgres") throws {
        try run("\(binaries)/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "tessera", "-d", database, "-v", "ON_ERROR_STOP=1", "-qc", sql])
    }

    /// Stops the server (fast: connections are cut) and starts it again on the same port.
    public func restart(pause: Double = 0) throws {
        try run("\(binaries)/pg_ctl", ["-D", "\(folder)/data", "-m", "fast", "-w", "stop"])
        if pause > 0 { usleep(UInt32(pause * 1_000_000)) }
        try run("\(binaries)/pg_ctl", ["-D", "\(folder)/data", "-l", "\(folder)/server.log", "-w", "-t", "60", "start", "-o",
                                       "-p \(port) -k \(folder) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"])
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

// What the exit handler needs, kept where a C function pointer can reach it.
nonisolated(unsafe) private var serverFolder: UnsafeMutablePointer<CChar>?
nonisolated(unsafe) private var serverControl: UnsafeMutablePointer<CChar>?
nonisolated(unsafe) private var serverAsRoot = false

private func stopServer() {
    guard let serverFolder, let serverControl else { return }
    let folder = String(cString: serverFolder), control = String(cString: serverControl)
    _ = runAsServerUser([control, "-D", folder, "-m", "immediate", "stop"], in: "/")
    _ = runAsServerUser(["/bin/rm", "-rf", (folder as NSString).deletingLastPathComponent], in: "/")
}

/// Runs a program to its end (as the postgres user when root): its exit code (-1 if killed) and
/// output. posix_spawn and waitpid rather than Foundation's Process: under the test runner,
/// Process sometimes never saw `pg_ctl start` exit (the child stayed a zombie, waitUntilExit hung).
private func runAsServerUser(_ command: [String], in folder: String) -> (Int32, String) {
    // env -C: the server's programs want a working folder their user can read.
    let command = (getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []) + ["/usr/bin/env", "-C", folder] + command
    let log = "\(NSTemporaryDirectory())tessera-pg-run-\(UUID().uuidString).log"
    defer { unlink(log) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv = command.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid = pid_t()
    let spawned = posix_spawn(&pid, command[0], &actions, nil, argv, environ)
    guard spawned == 0 else { return (-1, "\(command[0]): \(String(cString: strerror(spawned)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    return (status & 0x7f == 0 ? (status >> 8) & 0xff : -1, text)
}
