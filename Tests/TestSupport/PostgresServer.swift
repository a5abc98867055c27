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
        let process = Process()
        if getuid() == 0 {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "postgres", "--", program] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
        }
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ServerError("\((program as NSString).lastPathComponent) \(arguments.joined(separator: " ")): exit \(process.terminationStatus): \(text)")
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
    let command = "\(control) -D '\(folder)' -m immediate stop >/dev/null 2>&1; rm -rf '\((folder as NSString).deletingLastPathComponent)'"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: serverAsRoot ? "/usr/sbin/runuser" : "/bin/sh")
    process.arguments = serverAsRoot ? ["-u", "postgres", "--", "/bin/sh", "-c", command] : ["-c", command]
    try? process.run()
    process.waitUntilExit()
}
