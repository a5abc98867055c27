// The job queue in PostgreSQL, shared by daemons on many hosts (the `store` setting
// `postgres://user:password@host:port/database`). Through postgres-nio's PostgresClient pool; a
// claim is a short transaction (`FOR UPDATE SKIP LOCKED`) committed before the work starts, and
// a lease that its worker's daemon renews with its heartbeat. Times are the database's clock
// (`tessera_now()`), so hosts whose clocks differ agree on when a lease runs out.
//
// The daemon's workers and watcher are threads that call the store synchronously; each call runs
// its queries as a task and waits for it. Called from the cooperative pool it would hold one of
// its threads while waiting, so the CLI and the daemon's start call it from threads of their own.

import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The job queue in a PostgreSQL database that several daemons share.
public final class PostgresStore: JobStore {
    public let location: String
    private let client: PostgresClient
    private let running: Task<Void, Never>
    private let logger: Logger
    /// Seconds a call waits for the database before it fails.
    static let patience = 20.0
    /// The channel an enqueue notifies, so idle daemons claim at once rather than at their next poll.
    static let channel = "tessera_jobs"

    /// Connects to the database at `url` (`postgres://user:password@host:port/database`,
    /// `?sslmode=disable|prefer|require`, `?host=/socket/folder` for a Unix socket) and migrates it.
    public init(url: String) throws {
        let endpoint = try Endpoint(url)
        var logger = Logger(label: "tessera.postgres")
        logger.logLevel = .critical // the store reports its own errors, with the server's message
        self.logger = logger
        var shown = URLComponents(string: url)
        shown?.password = nil
        location = shown?.string ?? "postgres"
        let client = PostgresClient(configuration: try endpoint.pool(), backgroundLogger: logger)
        self.client = client
        running = Task.detached(executorPreference: EventLoopExecutor.shared) { await client.run() }
        do {
            // One connection of its own first: the pool waits for a server that refuses it, and
            // this says why (no such role, no such database, wrong password).
            try blocking { [logger] in
                let probe = try await PostgresConnection.connect(configuration: try endpoint.connection(), id: 0, logger: logger)
                try await probe.close()
            }
            try blocking { [client, logger] in try await PostgresSchema.migrate(client, logger: logger) }
        } catch {
            running.cancel()
            throw error
        }
    }

    /// The LISTEN loop of `onNewJobs`, ended with the store.
    private let listening = Mutex<Task<Void, Never>?>(nil)

    deinit {
        listening.withLock { $0?.cancel() }
        running.cancel()
    }

    /// Where the database is and how to log in, from a `postgres://` URL.
    private struct Endpoint: Sendable {
        var host: String, port: Int, socket: String?, user: String, password: String?, database: String
        enum TLS { case disable, prefer, require }
        var tls: TLS

        init(_ url: String) throws {
            guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? "") else {
                throw JobStoreError("store '\(url)': not a postgres:// URL")
            }
            let query = Dictionary((parts.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
            user = parts.user ?? ProcessInfo.processInfo.environment["USER"] ?? "tessera"
            password = parts.password
            database = parts.path.isEmpty || parts.path == "/" ? user : String(parts.path.dropFirst())
            let port = parts.port ?? 5432
            (host, self.port) = (parts.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost", port)
            socket = query["host"].flatMap { $0.hasPrefix("/") ? "\($0)/.s.PGSQL.\(port)" : nil }
            switch query["sslmode"] ?? "prefer" {
            case "disable": tls = .disable
            case "prefer": tls = .prefer
            case "require": tls = .require
            case let mode: throw JobStoreError("store '\(url)': sslmode '\(mode)': use disable, prefer or require")
            }
        }

        func pool() throws -> PostgresClient.Configuration {
            var configuration: PostgresClient.Configuration
            if let socket {
                configuration = .init(unixSocketPath: socket, username: user, password: password, database: database)
            } else {
                let tls: PostgresClient.Configuration.TLS = switch self.tls {
                case .disable: .disable
                case .prefer: .prefer(.makeClientConfiguration())
                case .require: .require(.makeClientConfiguration())
                }
                configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
            }
            configuration.options.connectTimeout = .seconds(5)
            // A daemon paused (SIGSTOP, a hung host) inside a transaction would hold its rows'
            // locks, and the sweeper skips locked rows: the server ends such a session instead.
            configuration.options.additionalStartupParameters = [("idle_in_transaction_session_timeout", "\(Int(Self.transactionLimit))s")]
            return configuration
        }

        /// Seconds a transaction may wait for its daemon before the server ends it. Every
        /// transaction is a few statements, milliseconds apart.
        static let transactionLimit = 10.0

        func connection() throws -> PostgresConnection.Configuration {
            if let socket { return .init(unixSocketPath: socket, username: user, password: password, database: database) }
            let tls: PostgresConnection.Configuration.TLS = switch self.tls {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
            configuration.options.connectTimeout = .seconds(5)
            return configuration
        }
    }

    // MARK: running queries from threads

    /// Runs `body` as a task and waits for it on this thread, at most `Self.patience` seconds (the
    /// pool waits for a server it cannot reach rather than failing); the server's errors become one line.
    private func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        let task = Task.detached(executorPreference: EventLoopExecutor.shared) {
            let outcome: Result<T, any Error>
            do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
            result.withLock { $0 = outcome }
            done.signal()
        }
        if done.wait(timeout: .now() + Self.patience) == .timedOut {
            task.cancel()
            throw JobStoreError("\(location): no answer within \(Int(Self.patience)) s (is the server running, and are the user, password and database right?)")
        }
        do { return try result.withLock { $0! }.get() } catch { throw describe(error) }
    }

    /// The server's own message for an error, or what went wrong with the connection, on one line
    /// (postgres-nio's errors print a generic text so as not to leak a query's values).
    private func describe(_ error: any Error) -> any Error {
        if let error = error as? PostgresTransactionError, let inner = error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError {
            return describe(inner)
        }
        guard let error = error as? PSQLError else { return error }
        let reason = error.serverInfo?[.message] ?? error.underlying.map { "\($0)" } ?? "\(error.code)".replacingOccurrences(of: "_", with: " ")
        return JobStoreError("\(location): \(reason)")
    }

    /// Runs `body` in a transaction.
    private func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T) throws -> T {
        try blocking { [client, logger] in try await client.withTransaction(logger: logger) { try await body($0, logger) } }
    }

    /// Runs `body` in a transaction if `lease` still holds its running job (its row locked until
    /// the end, so a sweeper cannot take it meanwhile); else throws `LeaseLost`.
    private func holding<T: Sendable>(_ lease: Lease, _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T) throws -> T {
        try transaction { db, logger in
            let held = try await (try await db.query("""
                SELECT id FROM jobs WHERE id = \(lease.job) AND lease_token = \(lease.token) AND status = 'running' FOR UPDATE
                """, logger: logger)).all()
            guard !held.isEmpty else { throw LeaseLost(job: lease.job) }
            return try await body(db, logger)
        }
    }

    /// Runs one statement on its own (no transaction around it: it is one already) and returns
    /// its rows. The calls every job makes are one statement each, their lease check in the
    /// statement's WHERE and their event in a CTE: a round trip each, not five.
    private func statement(_ query: PostgresQuery) throws -> [PostgresRow] {
        try blocking { [client, logger] in try await client.query(query, logger: logger).all() }
    }

    private static func log(_ db: PostgresConnection, _ logger: Logger, _ id: Int64, _ kind: String, _ message: String) async throws {
        try await db.query("INSERT INTO job_events (job_id, at, kind, message) VALUES (\(id), tessera_now(), \(kind), \(message))", logger: logger)
    }

    private static func jobs(_ db: PostgresConnection, _ logger: Logger, _ query: PostgresQuery) async throws -> [Job] {
        try await (try await db.query(query, logger: logger)).all().map(Job.init(postgres:))
    }

    /// A caller's non-escaping `choose` closure, lent to the task the caller waits for and taken
    /// back before the caller returns: the finished task may hold its captures a moment longer,
    /// which `withoutActuallyEscaping` would trap on.
    private final class Lent: @unchecked Sendable { // `choose` is read and cleared under `lock`
        private var choose: ((Set<String>) throws -> String)?
        private let lock = NSLock()
        init(_ choose: @escaping (Set<String>) throws -> String) { self.choose = choose }
        func callAsFunction(_ taken: Set<String>) throws -> String {
            try lock.withLock {
                guard let choose else { throw CancellationError() } // its caller gave up waiting
                return try choose(taken)
            }
        }
        func takeBack() { lock.withLock { choose = nil } }
    }

    private func lending<R>(_ choose: (Set<String>) throws -> String, _ body: (Lent) throws -> R) throws -> R {
        try withoutActuallyEscaping(choose) { choose in
            let lent = Lent(choose)
            defer { lent.takeBack() }
            return try body(lent)
        }
    }

    // MARK: enqueueing

    public func enqueue(_ new: NewJob, failing: String?) throws -> (id: Int64, added: Bool) {
        let (device, inode) = (Int64(bitPattern: new.identity.device), Int64(bitPattern: new.identity.inode))
        let name = (new.source as NSString).lastPathComponent
        return try transaction { db, logger in
            let inserted = try await (try await db.query("""
                INSERT INTO jobs (source, name, style, size, mtime, device, inode, digest, origin, priority, created_at)
                VALUES (\(new.source), \(name), \(new.style), \(new.identity.size), \(new.identity.mtime), \(device), \(inode), \(new.digest),
                        \(new.origin.rawValue), \(new.priority), tessera_now())
                ON CONFLICT DO NOTHING RETURNING id
                """, logger: logger)).decode(Int64.self).all()
            guard let id = inserted.first else {
                let existing = try await (try await db.query("""
                    SELECT id FROM jobs WHERE source = \(new.source) AND style = \(new.style) AND size = \(new.identity.size)
                    AND mtime = \(new.identity.mtime) AND digest = \(new.digest) AND band = 0
                    """, logger: logger)).decode(Int64.self).all()
                guard let id = existing.first else { throw JobStoreError("job for \(new.source) vanished while it was queued") }
                return (id, false)
            }
            guard new.stillInPlace?() ?? true else { throw SourceMoved() }
            try await Self.log(db, logger, id, "queued", "\(new.source) for style \(new.style)")
            if let failing {
                try await db.query("UPDATE jobs SET status = 'failed', error = \(failing), finished_at = tessera_now() WHERE id = \(id)", logger: logger)
                try await Self.log(db, logger, id, "failed", failing)
            } else {
                try await db.query("SELECT pg_notify(\(Self.channel), '')", logger: logger)
            }
            return (id, true)
        }
    }

    public func isKnown(source: String, identity: FileIdentity) throws -> Bool {
        try blocking { [client] in
            try await (try await client.query("""
                SELECT EXISTS (SELECT 1 FROM jobs WHERE source = \(source) AND size = \(identity.size) AND mtime = \(identity.mtime))
                """)).decode(Bool.self).all().first ?? false
        }
    }

    /// Calls `wake` whenever a job is queued anywhere, until the store goes; reconnects after a
    /// lost connection (the daemons' polls cover the gap).
    public func onNewJobs(_ wake: @escaping @Sendable () -> Void) {
        let task = Task.detached(executorPreference: EventLoopExecutor.shared) { [client, logger] in
            while !Task.isCancelled {
                do {
                    try await client.withConnection { db in
                        try await db.listen(on: Self.channel) { notifications in
                            wake() // jobs queued while not listening
                            for try await _ in notifications { wake() }
                        }
                    }
                } catch {
                    logger.debug("listen: \(String(reflecting: error))")
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        listening.withLock { $0?.cancel(); $0 = task }
    }

    // MARK: workers

    public func claim(worker: String, leaseSeconds: Double) throws -> Job? {
        let token = UUID().uuidString
        return try statement("""
            WITH next AS (
                SELECT id FROM jobs WHERE status = 'queued' AND not_before <= tessera_now() AND bands_pending = 0
                ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE jobs SET status = 'running', worker = \(worker), attempts = jobs.attempts + 1, started_at = tessera_now(),
                    tiles_done = 0, lease_token = \(token), lease_expires_at = tessera_now() + \(leaseSeconds)
                FROM next WHERE jobs.id = next.id RETURNING jobs.*
            ), logged AS (
                INSERT INTO job_events (job_id, at, kind, message) SELECT id, tessera_now(), 'started', 'attempt ' || attempts || ' on ' || \(worker)
                FROM claimed
            )
            SELECT * FROM claimed
            """).first.map(Job.init(postgres:))
    }

    public func reserveOutput(_ lease: Lease, choose: (Set<String>) -> String) throws -> String {
        try lending(choose) { lent in
            try holding(lease) { db, logger in
                // One reservation at a time across the cluster: two jobs of one name must not pick the same free name.
                try await db.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.LockKey.outputs.rawValue))", logger: logger)
                let reserved = try await (try await db.query("SELECT output FROM jobs WHERE id = \(lease.job)", logger: logger)).decode(String?.self).all()
                if let output = reserved.first ?? nil { return output }
                let taken = try await (try await db.query("SELECT output FROM jobs WHERE output IS NOT NULL AND status IN ('queued', 'running')",
                                               logger: logger)).decode(String.self).all()
                let output = try lent(Set(taken))
                try await db.query("UPDATE jobs SET output = \(output) WHERE id = \(lease.job)", logger: logger)
                return output
            }
        }
    }

    public func split(_ lease: Lease, bands: [Range<Int>]) throws {
        try holding(lease) { db, logger in
            for (n, rows) in bands.enumerated() {
                let band = try await (try await db.query("""
                    INSERT INTO jobs (source, name, style, size, mtime, device, inode, digest, origin, priority, created_at,
                                      parent_id, band, band_start, band_end)
                    SELECT source, name, style, size, mtime, device, inode, digest, origin, priority, tessera_now(),
                           id, \(n + 1), \(rows.lowerBound), \(rows.upperBound) FROM jobs WHERE id = \(lease.job)
                    RETURNING id
                    """, logger: logger)).decode(Int64.self).all()[0]
                try await Self.log(db, logger, band, "queued", "band \(n + 1) of \(bands.count) of job \(lease.job): tile rows \(rows.lowerBound) to \(rows.upperBound - 1)")
            }
            try await db.query("""
                UPDATE jobs SET status = 'queued', attempts = greatest(attempts - 1, 0), worker = NULL, lease_token = NULL,
                    bands = \(bands.count), bands_pending = \(bands.count) WHERE id = \(lease.job)
                """, logger: logger)
            try await Self.log(db, logger, lease.job, "split", "into \(bands.count) bands that any worker may take; the output is assembled after the last")
            try await db.query("SELECT pg_notify(\(Self.channel), '')", logger: logger)
        }
    }

    /// Ends the other bands of a band's job that cannot finish now: queued ones are canceled,
    /// running ones asked to stop.
    private static func stopBands(_ db: PostgresConnection, _ logger: Logger, of parent: Int64) async throws {
        try await db.query("UPDATE jobs SET status = 'canceled', finished_at = tessera_now() WHERE parent_id = \(parent) AND status = 'queued'", logger: logger)
        try await db.query("UPDATE jobs SET cancel_requested = true WHERE parent_id = \(parent) AND status = 'running'", logger: logger)
    }

    /// A band failed for good: so does its job (unless it ended already), and its other bands stop.
    private static func failParent(_ db: PostgresConnection, _ logger: Logger, ofBand id: Int64, reason: String) async throws {
        let rows = try await (try await db.query("SELECT parent_id, band FROM jobs WHERE id = \(id)", logger: logger)).decode((Int64?, Int).self).all()
        guard let (parent, band) = rows.first, let parent else { return }
        let failed = try await (try await db.query("""
            UPDATE jobs SET status = 'failed', error = \("band \(band): \(reason)"), finished_at = tessera_now()
            WHERE id = \(parent) AND status = 'queued' RETURNING id
            """, logger: logger)).all()
        if !failed.isEmpty { try await log(db, logger, parent, "failed", "band \(band): \(reason)") }
        try await stopBands(db, logger, of: parent)
    }

    public func progress(_ lease: Lease, done: Int, total: Int, newTiles: Int) throws -> Bool {
        let rows = try statement("""
            WITH held AS (
                UPDATE jobs SET tiles_done = \(done), tiles_total = \(total) WHERE id = \(lease.job) AND lease_token = \(lease.token) AND status = 'running' RETURNING cancel_requested, worker
            ), sampled AS (
                INSERT INTO progress_samples (at, tiles, daemon) SELECT tessera_now(), \(newTiles), rtrim(rtrim(worker, '0123456789'), '/')
                FROM held WHERE \(newTiles) > 0
            )
            SELECT cancel_requested FROM held
            """)
        guard let row = rows.first else { throw LeaseLost(job: lease.job) }
        return try row.decode(Bool.self)
    }

    public func checkpoint(_ lease: Lease, tileRows: Int, key: String) throws {
        guard try !statement("UPDATE jobs SET resume_tile_rows = \(tileRows), resume_key = \(key) WHERE id = \(lease.job) AND lease_token = \(lease.token) AND status = 'running' RETURNING id").isEmpty else {
            throw LeaseLost(job: lease.job)
        }
    }

    public func note(_ id: Int64, kind: String, message: String) throws {
        try transaction { db, logger in try await Self.log(db, logger, id, kind, message) }
    }

    public func finish(_ lease: Lease, output: String, tiles: Int) throws {
        let rows = try statement("""
            WITH done AS (
                UPDATE jobs SET status = 'done', output = \(output), tiles_done = \(tiles), tiles_total = \(tiles), finished_at = tessera_now(),
                    error = NULL, resume_tile_rows = 0, resume_key = NULL WHERE id = \(lease.job) AND lease_token = \(lease.token) AND status = 'running'
                RETURNING id, parent_id
            ), logged AS (
                INSERT INTO job_events (job_id, at, kind, message) SELECT id, tessera_now(), 'done', \(output) FROM done
            ), counted AS (
                -- A band counts down its job's bands (the row lock serialises bands finishing at
                -- once); the last makes the job claimable for its assembly and wakes the daemons.
                UPDATE jobs SET bands_pending = jobs.bands_pending - 1 FROM done WHERE jobs.id = done.parent_id RETURNING jobs.bands_pending
            )
            SELECT (SELECT count(*) FROM done), (SELECT count(pg_notify(\(Self.channel), '')) FROM counted WHERE bands_pending = 0)
            """)
        guard try rows.first?.makeRandomAccess()[0].decode(Int.self) == 1 else { throw LeaseLost(job: lease.job) }
    }

    public func fail(_ lease: Lease, reason: String) throws {
        try holding(lease) { db, logger in
            try await db.query("""
                UPDATE jobs SET status = 'failed', error = \(reason), output = NULL, finished_at = tessera_now(), resume_tile_rows = 0,
                    resume_key = NULL WHERE id = \(lease.job)
                """, logger: logger)
            try await Self.log(db, logger, lease.job, "failed", reason)
            try await Self.failParent(db, logger, ofBand: lease.job, reason: reason)
        }
    }

    public func retryLater(_ lease: Lease, reason: String, delay: Double) throws {
        try holding(lease) { db, logger in
            try await db.query("""
                UPDATE jobs SET status = 'queued', error = \(reason), not_before = tessera_now() + \(delay), worker = NULL, lease_token = NULL
                WHERE id = \(lease.job)
                """, logger: logger)
            try await Self.log(db, logger, lease.job, "retry", "in \(Int(delay)) s: \(reason)")
        }
    }

    public func requeue(_ lease: Lease, reason: String) throws {
        try holding(lease) { db, logger in
            try await db.query("""
                UPDATE jobs SET status = 'queued', attempts = greatest(attempts - 1, 0), worker = NULL, tiles_done = 0, lease_token = NULL
                WHERE id = \(lease.job)
                """, logger: logger)
            try await Self.log(db, logger, lease.job, "requeued", reason)
            try await db.query("SELECT pg_notify(\(Self.channel), '')", logger: logger)
        }
    }

    public func markCanceled(_ lease: Lease) throws {
        try holding(lease) { db, logger in
            try await db.query("""
                UPDATE jobs SET status = 'canceled', output = NULL, finished_at = tessera_now(), worker = NULL, resume_tile_rows = 0,
                    resume_key = NULL, lease_token = NULL WHERE id = \(lease.job)
                """, logger: logger)
            try await Self.log(db, logger, lease.job, "canceled", "stopped")
        }
    }

    // MARK: settling sources

    public func reserveDestination(_ id: Int64, again: Bool, choose: (Set<String>) throws -> String) throws -> String {
        try lending(choose) { lent in
            try transaction { db, logger in
                try await db.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.LockKey.destinations.rawValue))", logger: logger)
                if !again, let reserved = try await (try await db.query("SELECT destination FROM jobs WHERE id = \(id)", logger: logger))
                    .decode(String?.self).all().first ?? nil {
                    return reserved
                }
                let taken = try await (try await db.query("SELECT destination FROM jobs WHERE destination IS NOT NULL", logger: logger))
                    .decode(String.self).all()
                let destination = try lent(Set(taken))
                try await db.query("UPDATE jobs SET destination = \(destination) WHERE id = \(id)", logger: logger)
                return destination
            }
        }
    }

    public func moved(_ id: Int64, source: String, identity: FileIdentity?) throws {
        try transaction { db, logger in
            try await db.query("UPDATE jobs SET source = \(source), destination = NULL WHERE id = \(id)", logger: logger)
            if let identity {
                try await db.query("""
                    UPDATE jobs SET device = \(Int64(bitPattern: identity.device)), inode = \(Int64(bitPattern: identity.inode)) WHERE id = \(id)
                    """, logger: logger)
            }
            try await Self.log(db, logger, id, "moved", source)
        }
    }

    public func removedSource(_ id: Int64, reason: String) throws {
        try transaction { db, logger in
            try await db.query("UPDATE jobs SET source_removed_at = tessera_now(), destination = NULL WHERE id = \(id)", logger: logger)
            try await Self.log(db, logger, id, "source removed", reason)
        }
    }

    public func archived(under folder: String, finishedBefore: Double) throws -> [Job] {
        try transaction { db, logger in
            try await Self.jobs(db, logger, """
                SELECT * FROM jobs WHERE status = 'done' AND origin = 'inbox' AND band = 0 AND source_removed_at IS NULL
                AND starts_with(source, \(folder + "/")) AND finished_at < \(finishedBefore) ORDER BY id
                """)
        }
    }

    public func unsettled(under folder: String, age: Double) throws -> [Job] {
        try transaction { db, logger in
            try await Self.jobs(db, logger, """
                SELECT * FROM jobs WHERE status IN ('done', 'failed') AND origin = 'inbox' AND band = 0 AND source_removed_at IS NULL
                AND starts_with(source, \(folder + "/")) AND (finished_at IS NULL OR finished_at <= tessera_now() - \(age)) ORDER BY id
                """)
        }
    }

    // MARK: recovery

    /// Other daemons may be running jobs: a dead daemon's jobs come back when their leases run out (`sweep`).
    public func recoverRunning() throws -> Int { 0 }

    public func sweep(attempts: Int) throws -> [Job] {
        try transaction { db, logger in
            let elected = try await (try await db.query("SELECT pg_try_advisory_xact_lock(\(PostgresSchema.LockKey.sweeper.rawValue))", logger: logger))
                .decode(Bool.self).all().first ?? false
            guard elected else { return [] }
            let expired = try await Self.jobs(db, logger, """
                SELECT * FROM jobs WHERE status = 'running' AND lease_expires_at < tessera_now() ORDER BY id FOR UPDATE SKIP LOCKED
                """)
            var failed: [Job] = []
            for job in expired {
                let reason = "its lease ran out on \(job.worker ?? "a worker") (the daemon died, hung or lost the database)"
                if job.attempts < attempts {
                    let delay = pow(2, Double(job.attempts))
                    try await db.query("""
                        UPDATE jobs SET status = 'queued', worker = NULL, tiles_done = 0, lease_token = NULL, error = \(reason),
                            not_before = tessera_now() + \(delay) WHERE id = \(job.id)
                        """, logger: logger)
                    try await Self.log(db, logger, job.id, "recovered", "\(reason); queued again in \(Int(delay)) s")
                } else {
                    let final = "\(reason), after \(job.attempts) attempts"
                    try await db.query("""
                        UPDATE jobs SET status = 'failed', error = \(final), output = NULL, finished_at = tessera_now(), worker = NULL,
                            lease_token = NULL, resume_tile_rows = 0, resume_key = NULL WHERE id = \(job.id)
                        """, logger: logger)
                    try await Self.log(db, logger, job.id, "failed", final)
                    try await Self.failParent(db, logger, ofBand: job.id, reason: final)
                    var ended = job
                    (ended.status, ended.error) = (.failed, final)
                    failed.append(ended)
                }
            }
            if failed.count < expired.count { try await db.query("SELECT pg_notify(\(Self.channel), '')", logger: logger) }
            return failed
        }
    }

    // MARK: daemons

    public func daemonStarted(id: String, pid: Int32, host: String, version: String) throws {
        try transaction { db, logger in
            // Other daemons on this host may be alive: only those silent for a while are retired.
            try await db.query("""
                UPDATE daemons SET stopped_at = tessera_now() WHERE stopped_at IS NULL AND host = \(host) AND id != \(id)
                AND heartbeat_at < tessera_now() - 600
                """, logger: logger)
            try await db.query("""
                INSERT INTO daemons (id, pid, host, version, started_at, heartbeat_at)
                VALUES (\(id), \(Int64(pid)), \(host), \(version), tessera_now(), tessera_now())
                ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, version = excluded.version,
                    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL
                """, logger: logger)
            try await db.query("DELETE FROM progress_samples WHERE at < tessera_now() - 3600", logger: logger)
        }
    }

    public func heartbeat(id: String, leases: [Lease], leaseSeconds: Double) throws -> Set<Lease> {
        let tokens = leases.map(\.token)
        let renewed = Set(try statement("""
            WITH beat AS (UPDATE daemons SET heartbeat_at = tessera_now() WHERE id = \(id))
            UPDATE jobs SET lease_expires_at = tessera_now() + \(leaseSeconds) WHERE lease_token = ANY(\(tokens)) AND status = 'running'
            RETURNING lease_token
            """).map { try $0.decode(String.self) })
        return Set(leases.filter { !renewed.contains($0.token) })
    }

    public func daemonStopped(id: String) throws {
        try transaction { db, logger in
            try await db.query("UPDATE daemons SET stopped_at = tessera_now() WHERE id = \(id)", logger: logger)
        }
    }

    // MARK: styles

    public func register(styles: [StyleRecord]) throws {
        try transaction { db, logger in
            try await db.query("DELETE FROM styles", logger: logger)
            for style in styles {
                try await db.query("""
                    INSERT INTO styles (name, file, digest, metrics, registered_at)
                    VALUES (\(style.name), \(style.file), \(style.digest), \(style.metrics), tessera_now())
                    """, logger: logger)
            }
        }
    }

    public func styles() throws -> [StyleRecord] {
        try transaction { db, logger in
            try await (try await db.query("SELECT name, file, digest, metrics FROM styles ORDER BY name", logger: logger))
                .decode((String, String, String, String?).self).all()
                .map { StyleRecord(name: $0.0, file: $0.1, digest: $0.2, metrics: $0.3) }
        }
    }

    // MARK: the CLI

    public func request(_ request: JobRequest, job id: Int64) throws -> Job {
        try transaction { db, logger in
            guard let job = try await Self.jobs(db, logger, "SELECT * FROM jobs WHERE id = \(id) FOR UPDATE").first else {
                throw JobStoreError("no job \(id)")
            }
            if let parent = job.parentId { throw JobStoreError("job \(id) is band \(job.band) of job \(parent); ask about job \(parent)") }
            switch (request, job.status) {
            case (.cancel, .queued):
                try await db.query("UPDATE jobs SET status = 'canceled', finished_at = tessera_now() WHERE id = \(id)", logger: logger)
                try await Self.log(db, logger, id, "canceled", job.bands > 0 ? "with its bands" : "before it started")
                try await Self.stopBands(db, logger, of: id)
            case (.cancel, .running):
                try await db.query("UPDATE jobs SET cancel_requested = true WHERE id = \(id)", logger: logger)
                try await Self.log(db, logger, id, "cancel", "requested")
            case (.rerun, .done) where job.origin == .submit:
                try await db.query("""
                    UPDATE jobs SET status = 'queued', attempts = 0, error = NULL, output = NULL, tiles_done = 0, cancel_requested = false,
                        not_before = 0, finished_at = NULL WHERE id = \(id)
                    """, logger: logger)
                try await Self.log(db, logger, id, "queued", "run again (--force)")
            case (.rerun, .done):
                throw JobStoreError("job \(id) came from the inbox and its file is archived; drop it in the inbox again to rerun it")
            case (.retry, .failed), (.retry, .canceled), (.rerun, .failed), (.rerun, .canceled):
                // A split job starts over whole: its bands go (a worker still on one loses its lease).
                try await db.query("DELETE FROM jobs WHERE parent_id = \(id)", logger: logger)
                try await db.query("""
                    UPDATE jobs SET status = 'queued', attempts = 0, error = NULL, cancel_requested = false, not_before = 0, finished_at = NULL,
                        bands = 0, bands_pending = 0 WHERE id = \(id)
                    """, logger: logger)
                try await Self.log(db, logger, id, "queued", "retry requested")
            default:
                let hint = request == .retry && job.status == .done ? " without --force" : ""
                throw JobStoreError("job \(id) is \(job.status.rawValue); cannot \(request == .cancel ? "cancel" : "retry") it\(hint)")
            }
            try await db.query("SELECT pg_notify(\(Self.channel), '')", logger: logger)
            return try await Self.jobs(db, logger, "SELECT * FROM jobs WHERE id = \(id)")[0]
        }
    }

    public func jobs(status: Job.Status? = nil, style: String? = nil, limit: Int = 100) throws -> [Job] {
        try transaction { db, logger in
            try await Self.jobs(db, logger, """
                SELECT * FROM jobs WHERE (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue))
                AND (\(style)::text IS NULL OR style = \(style)) ORDER BY id DESC LIMIT \(limit)
                """)
        }
    }

    public func bands(of id: Int64) throws -> [Job] {
        try transaction { db, logger in try await Self.jobs(db, logger, "SELECT * FROM jobs WHERE parent_id = \(id) ORDER BY band") }
    }

    public func job(_ id: Int64) throws -> (Job, [JobEvent])? {
        try transaction { db, logger -> (Job, [JobEvent])? in
            guard let job = try await Self.jobs(db, logger, "SELECT * FROM jobs WHERE id = \(id)").first else { return nil }
            let events = try await (try await db.query("SELECT id, job_id, at, kind, message FROM job_events WHERE job_id = \(id) ORDER BY id", logger: logger))
                .decode((Int64, Int64, Double, String, String).self).all()
                .map { JobEvent(id: $0.0, jobId: $0.1, at: $0.2, kind: $0.3, message: $0.4) }
            return (job, events)
        }
    }

    public func summary() throws -> QueueSummary {
        try transaction { db, logger in
            var counts: [Job.Status: Int] = [:]
            for try await (status, n) in try await (try await db.query("SELECT status, count(*) FROM jobs GROUP BY status", logger: logger)).decode((String, Int).self) {
                if let s = Job.Status(rawValue: status) { counts[s] = n }
            }
            let running = try await Self.jobs(db, logger, "SELECT * FROM jobs WHERE status = 'running' ORDER BY id")
            let now = try await (try await db.query("SELECT tessera_now()", logger: logger)).decode(Double.self).all()[0]
            var tiles: [String: Int] = [:]
            for (daemon, sum) in try await (try await db.query("""
                SELECT coalesce(daemon, ''), sum(tiles)::bigint FROM progress_samples WHERE at >= \(now - 60) GROUP BY 1
                """, logger: logger)).decode((String, Int).self).all() {
                tiles[daemon] = sum
            }
            let daemons = try await (try await db.query("""
                SELECT id, pid, host, version, started_at, heartbeat_at, stopped_at FROM daemons WHERE stopped_at IS NULL ORDER BY heartbeat_at DESC
                """, logger: logger)).decode((String, Int, String, String?, Double, Double, Double?).self).all()
                .map { DaemonRecord(id: $0.0, pid: $0.1, host: $0.2, version: $0.3, startedAt: $0.4, heartbeatAt: $0.5, stoppedAt: $0.6) }
            return QueueSummary(counts: counts, running: running, tilesLastMinute: tiles, daemons: daemons, now: now)
        }
    }
}

extension AsyncSequence {
    /// Every element, in order.
    func all() async throws -> [Element] {
        var elements: [Element] = []
        for try await element in self { elements.append(element) }
        return elements
    }
}

extension Job {
    /// A job from a `SELECT * FROM jobs` row.
    init(postgres row: PostgresRow) throws {
        let r = row.makeRandomAccess()
        func value<T: PostgresDecodable>(_ column: String, _: T.Type = T.self) throws -> T { try r[column].decode(T.self) }
        guard let status = Job.Status(rawValue: try value("status")), let origin = Job.Origin(rawValue: try value("origin")) else {
            throw JobStoreError("job \(try value("id", Int64.self)): unknown status or origin")
        }
        self.init(id: try value("id"), source: try value("source"), name: try value("name"), style: try value("style"),
                  size: try value("size"), mtime: try value("mtime"), device: try value("device"), inode: try value("inode"),
                  digest: try value("digest"), origin: origin, status: status, priority: try value("priority"),
                  attempts: try value("attempts"), error: try value("error"), output: try value("output"),
                  tilesTotal: try value("tiles_total"), tilesDone: try value("tiles_done"), worker: try value("worker"),
                  cancelRequested: try value("cancel_requested"), createdAt: try value("created_at"), notBefore: try value("not_before"),
                  startedAt: try value("started_at"), finishedAt: try value("finished_at"), destination: try value("destination"),
                  resumeTileRows: try value("resume_tile_rows"), resumeKey: try value("resume_key"),
                  sourceRemovedAt: try value("source_removed_at"), leaseToken: try value("lease_token"),
                  leaseExpiresAt: try value("lease_expires_at"))
        (parentId, band, bandStart, bandEnd) = (try value("parent_id"), try value("band"), try value("band_start"), try value("band_end"))
        (bands, bandsPending) = (try value("bands"), try value("bands_pending"))
    }
}
