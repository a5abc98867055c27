// The job queue and everything else Tessera keeps in SQLite, through GRDB: WAL (a DatabasePool),
// a busy timeout, migrations run by writers only. Readers (the CLI's listing commands) open the
// file read-only, so they never write at open and never wait on the daemon's writes. One host's
// daemon owns the file, so it needs no sweeper: at its start it takes back what it left running.

import Foundation
import GRDB

/// The job queue in one SQLite file, and what only one host keeps: training runs and checkpoints.
public final class SQLiteStore: JobStore {
    public let path: String
    public var location: String { path }
    let database: any DatabaseWriter & DatabaseReader

    /// Opens for writing (the daemon, `submit`, `cancel`, `retry`), creating and migrating. The
    /// database and its -wal and -shm files are private, mode 0600, whatever the umask; with
    /// `group`, 0640 and owned by that group.
    public init(path: String, group: String? = nil) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var gid: gid_t?
        if let group {
            guard let entry = getgrnam(group) else { throw JobStoreError("group '\(group)': no such group") }
            gid = entry.pointee.gr_gid
        }
        let mode: mode_t = gid == nil ? 0o600 : 0o640
        func protect(_ file: String) throws {
            // SQLite gives -wal and -shm the database's mode when it creates them.
            let fd = open(file, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode)
            guard fd >= 0 else { throw JobStoreError("\(file): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            guard fchmod(fd, mode) == 0, gid.map({ fchown(fd, uid_t.max, $0) == 0 }) ?? true else {
                throw JobStoreError("\(file): cannot set its mode or group: \(String(cString: strerror(errno)))")
            }
        }
        // Before SQLite opens anything: closing a descriptor of a file drops every POSIX lock this
        // process holds on it, and a -shm whose locks vanish is truncated by the next reader
        // while mapped here (SIGBUS).
        try protect(path)
        for file in [path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) { try protect(file) }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        database = try Self.takingTurns(in: (path as NSString).deletingLastPathComponent) {
            let pool = try DatabasePool(path: path, configuration: configuration)
            try SQLiteSchema.migrator.migrate(pool)
            return pool
        }
    }

    /// Runs `body` holding an exclusive flock on `folder`. Two processes opening a new database at
    /// once (the daemon and a `submit`) would otherwise collide: switching it to WAL does not wait
    /// for the busy timeout ("database is locked"), and GRDB reads which migrations are applied
    /// before writing them, so both run the first ("table jobs already exists"). The lock is on
    /// the folder, not the database: closing any descriptor of the database would drop SQLite's
    /// own POSIX locks on it.
    static func takingTurns<T>(in folder: String, _ body: () throws -> T) throws -> T {
        let fd = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw JobStoreError("\(folder): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw JobStoreError("\(folder): cannot lock it to migrate the database: \(String(cString: strerror(errno)))") }
        }
        return try body()
    }

    /// Opens an existing database read-only (the listing commands).
    public init(readingAt path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw JobStoreError("\(path): no database yet (start the daemon or submit a file first)")
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        database = try DatabasePool(path: path, configuration: configuration)
    }

    /// Why the existing database at `path` could not take the daemon's writes, or nil if it can:
    /// a write in a transaction that is rolled back, so nothing changes (`tessera check`).
    public static func writeProblem(at path: String) -> String? {
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.inDatabase { db in
                try db.inTransaction {
                    try db.execute(sql: "CREATE TABLE tessera_check (x)")
                    return .rollback
                }
            }
            return nil
        } catch let error as DatabaseError {
            return "\(path): cannot be written: \(error.message ?? "\(error.resultCode)")"
        } catch {
            return "\(path): cannot be written: \(error)"
        }
    }

    /// A private database in memory, migrated: the same queue without a file (the tests use it).
    public init(inMemory: Void = ()) throws {
        path = ":memory:"
        let queue = try DatabaseQueue()
        try SQLiteSchema.migrator.migrate(queue)
        database = queue
    }

    static var now: Double { Date().timeIntervalSince1970 }

    // MARK: enqueueing

    /// Adds a job unless the same file (path, device, inode, size, mtime, digest) was ever
    /// enqueued for the same style; returns the job's id and whether it is new.
    public func enqueue(_ new: NewJob, failing: String?) throws -> (id: Int64, added: Bool) {
        let (device, inode) = (Int64(bitPattern: new.identity.device), Int64(bitPattern: new.identity.inode))
        return try database.write { db in
            try db.execute(sql: """
                INSERT INTO jobs (source, name, style, size, mtime, device, inode, digest, origin, priority, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """, arguments: [new.source, (new.source as NSString).lastPathComponent, new.style, new.identity.size, new.identity.mtime,
                                 device, inode, new.digest, new.origin, new.priority, Self.now])
            guard db.changesCount > 0 else {
                let id = try Int64.fetchOne(db, sql: """
                    SELECT id FROM jobs WHERE source = ? AND style = ? AND device = ? AND inode = ? AND size = ? AND mtime = ? AND digest = ? AND band = 0
                    """, arguments: [new.source, new.style, device, inode, new.identity.size, new.identity.mtime, new.digest])
                return (id!, false)
            }
            guard new.stillInPlace?() ?? true else { throw SourceMoved() }
            let id = db.lastInsertedRowID
            try Self.log(db, id, "queued", "\(new.source) for style \(new.style)")
            if let failing {
                try db.execute(sql: "UPDATE jobs SET status = ?, error = ?, finished_at = ? WHERE id = ?", arguments: [Job.Status.failed, failing, Self.now, id])
                try Self.log(db, id, "failed", failing)
            }
            return (id, true)
        }
    }

    /// Whether a job exists for this file under this path (checked before hashing it).
    public func isKnown(source: String, identity: FileIdentity) throws -> Bool {
        try database.read { db in
            // Jobs queued before v4 have no identity (0, 0): their name, size and time decide.
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM jobs WHERE source = ? AND (device = ? AND inode = ? OR device = 0 AND inode = 0) AND size = ? AND mtime = ?)
                """,
                              arguments: [source, Int64(bitPattern: identity.device), Int64(bitPattern: identity.inode),
                                          identity.size, identity.mtime]) ?? false
        }
    }

    /// The daemon polls its own file often enough; no other process needs waking.
    public func onNewJobs(_ wake: @escaping @Sendable () -> Void) {}

    // MARK: workers

    public func claim(worker: String, leaseSeconds: Double) throws -> Job? {
        try database.write { db in
            let now = Self.now
            guard var job = try Job.filter(Job.Columns.status == Job.Status.queued && Job.Columns.notBefore <= now && Column("bands_pending") == 0)
                .order(Job.Columns.priority.desc, Job.Columns.id).fetchOne(db) else { return nil }
            let token = UUID().uuidString
            try db.execute(sql: """
                UPDATE jobs SET status = ?, worker = ?, attempts = attempts + 1, started_at = ?, tiles_done = 0, lease_token = ?, lease_expires_at = ?
                WHERE id = ?
                """, arguments: [Job.Status.running, worker, now, token, now + leaseSeconds, job.id])
            try Self.log(db, job.id, "started", "attempt \(job.attempts + 1) on \(worker)")
            job.status = .running
            job.attempts += 1
            job.worker = worker
            job.startedAt = now
            (job.leaseToken, job.leaseExpiresAt) = (token, now + leaseSeconds)
            return job
        }
    }

    /// Runs `body` if `lease` still holds its running job; else throws `LeaseLost`.
    private func holding<T>(_ lease: Lease, _ body: (Database) throws -> T) throws -> T {
        try database.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM jobs WHERE id = ? AND lease_token = ? AND status = ?)",
                                    arguments: [lease.job, lease.token, Job.Status.running]) == true else { throw LeaseLost(job: lease.job) }
            return try body(db)
        }
    }

    public func reserveOutput(_ lease: Lease, choose: (Set<String>) -> String) throws -> String {
        let id = lease.job
        return try holding(lease) { db in
            if let reserved = try String.fetchOne(db, sql: "SELECT output FROM jobs WHERE id = ?", arguments: [id]) { return reserved }
            let taken = try String.fetchSet(db, Job.select(Job.Columns.output)
                .filter(Job.Columns.output != nil && [Job.Status.queued, .running].contains(Job.Columns.status)))
            let output = choose(taken)
            try db.execute(sql: "UPDATE jobs SET output = ? WHERE id = ?", arguments: [output, id])
            return output
        }
    }

    public func split(_ lease: Lease, bands: [Range<Int>]) throws {
        let id = lease.job
        try holding(lease) { db in
            for (n, rows) in bands.enumerated() {
                try db.execute(sql: """
                    INSERT INTO jobs (source, name, style, size, mtime, device, inode, digest, origin, priority, created_at,
                                      parent_id, band, band_start, band_end)
                    SELECT source, name, style, size, mtime, device, inode, digest, origin, priority, ?, id, ?, ?, ? FROM jobs WHERE id = ?
                    """, arguments: [Self.now, n + 1, rows.lowerBound, rows.upperBound, id])
                try Self.log(db, db.lastInsertedRowID, "queued", "band \(n + 1) of \(bands.count) of job \(id): tile rows \(rows.lowerBound) to \(rows.upperBound - 1)")
            }
            try db.execute(sql: """
                UPDATE jobs SET status = ?, attempts = max(attempts - 1, 0), worker = NULL, lease_token = NULL, bands = ?, bands_pending = ? WHERE id = ?
                """, arguments: [Job.Status.queued, bands.count, bands.count, id])
            try Self.log(db, id, "split", "into \(bands.count) bands that any worker may take; the output is assembled after the last")
        }
    }

    /// Ends the other bands of a band's job that cannot finish now: queued ones are canceled,
    /// running ones asked to stop.
    private static func stopBands(_ db: Database, of parent: Int64) throws {
        try db.execute(sql: "UPDATE jobs SET status = ?, finished_at = ? WHERE parent_id = ? AND status = ?",
                       arguments: [Job.Status.canceled, now, parent, Job.Status.queued])
        try db.execute(sql: "UPDATE jobs SET cancel_requested = 1 WHERE parent_id = ? AND status = ?", arguments: [parent, Job.Status.running])
    }

    /// A band failed for good: so does its job (unless it ended already), and its other bands stop.
    private static func failParent(_ db: Database, ofBand id: Int64, reason: String) throws {
        guard let row = try Row.fetchOne(db, sql: "SELECT parent_id, band FROM jobs WHERE id = ?", arguments: [id]),
              let parent: Int64 = row["parent_id"] else { return }
        let band: Int = row["band"]
        try db.execute(sql: "UPDATE jobs SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status = ?",
                       arguments: [Job.Status.failed, "band \(band): \(reason)", now, parent, Job.Status.queued])
        if db.changesCount > 0 { try log(db, parent, "failed", "band \(band): \(reason)") }
        try stopBands(db, of: parent)
    }

    public func progress(_ lease: Lease, done: Int, total: Int, newTiles: Int) throws -> Bool {
        let id = lease.job
        return try holding(lease) { db in
            try db.execute(sql: "UPDATE jobs SET tiles_done = ?, tiles_total = ? WHERE id = ?", arguments: [done, total, id])
            if newTiles > 0 {
                try db.execute(sql: """
                    INSERT INTO progress_samples (at, tiles, daemon) SELECT ?, ?, rtrim(rtrim(worker, '0123456789'), '/') FROM jobs WHERE id = ?
                    """, arguments: [Self.now, newTiles, id])
            }
            return try Bool.fetchOne(db, sql: "SELECT cancel_requested FROM jobs WHERE id = ?", arguments: [id]) ?? false
        }
    }

    public func checkpoint(_ lease: Lease, tileRows: Int, key: String) throws {
        let id = lease.job
        try holding(lease) { db in
            try db.execute(sql: "UPDATE jobs SET resume_tile_rows = ?, resume_key = ? WHERE id = ?", arguments: [tileRows, key, id])
        }
    }

    public func note(_ id: Int64, kind: String, message: String) throws {
        try database.write { db in try Self.log(db, id, kind, message) }
    }

    public func finish(_ lease: Lease, output: String, tiles: Int) throws {
        let id = lease.job
        try holding(lease) { db in
            try db.execute(sql: "UPDATE jobs SET status = ?, output = ?, tiles_done = ?, tiles_total = ?, finished_at = ?, error = NULL, resume_tile_rows = 0, resume_key = NULL WHERE id = ?",
                           arguments: [Job.Status.done, output, tiles, tiles, Self.now, id])
            try Self.log(db, id, "done", output)
            // A band counts down its job's bands; the last makes the job claimable for its assembly.
            try db.execute(sql: "UPDATE jobs SET bands_pending = bands_pending - 1 WHERE id = (SELECT parent_id FROM jobs WHERE id = ?)", arguments: [id])
        }
    }

    public func reserveDestination(_ id: Int64, again: Bool, choose: (Set<String>) throws -> String) throws -> String {
        try database.write { db in
            if !again, let reserved = try String.fetchOne(db, sql: "SELECT destination FROM jobs WHERE id = ?", arguments: [id]) { return reserved }
            let taken = try String.fetchSet(db, sql: "SELECT destination FROM jobs WHERE destination IS NOT NULL")
            let destination = try choose(taken)
            try db.execute(sql: "UPDATE jobs SET destination = ? WHERE id = ?", arguments: [destination, id])
            return destination
        }
    }

    public func moved(_ id: Int64, source: String, identity: FileIdentity?) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE jobs SET source = ?, destination = NULL WHERE id = ?", arguments: [source, id])
            if let identity {
                try db.execute(sql: "UPDATE jobs SET device = ?, inode = ? WHERE id = ?",
                               arguments: [Int64(bitPattern: identity.device), Int64(bitPattern: identity.inode), id])
            }
            try Self.log(db, id, "moved", source)
        }
    }

    public func removedSource(_ id: Int64, reason: String) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE jobs SET source_removed_at = ?, destination = NULL WHERE id = ?", arguments: [Self.now, id])
            try Self.log(db, id, "source removed", reason)
        }
    }

    public func archived(under folder: String, finishedBefore: Double) throws -> [Job] {
        try database.read { db in
            try Self.sources(under: folder, Job.filter(Job.Columns.status == Job.Status.done && Job.Columns.origin == Job.Origin.inbox))
                .filter(sql: "finished_at < ?", arguments: [finishedBefore])
                .fetchAll(db)
        }
    }

    public func fail(_ lease: Lease, reason: String) throws {
        let id = lease.job
        try holding(lease) { db in
            try db.execute(sql: "UPDATE jobs SET status = ?, error = ?, output = NULL, finished_at = ?, resume_tile_rows = 0, resume_key = NULL WHERE id = ?",
                           arguments: [Job.Status.failed, reason, Self.now, id])
            try Self.log(db, id, "failed", reason)
            try Self.failParent(db, ofBand: id, reason: reason)
        }
    }

    public func retryLater(_ lease: Lease, reason: String, delay: Double) throws {
        let id = lease.job
        try holding(lease) { db in
            try db.execute(sql: "UPDATE jobs SET status = ?, error = ?, not_before = ?, worker = NULL, lease_token = NULL WHERE id = ?",
                           arguments: [Job.Status.queued, reason, Self.now + delay, id])
            try Self.log(db, id, "retry", "in \(Int(delay)) s: \(reason)")
        }
    }

    public func requeue(_ lease: Lease, reason: String) throws {
        let id = lease.job
        try holding(lease) { db in
            try db.execute(sql: "UPDATE jobs SET status = ?, attempts = max(attempts - 1, 0), worker = NULL, tiles_done = 0, lease_token = NULL WHERE id = ?",
                           arguments: [Job.Status.queued, id])
            try Self.log(db, id, "requeued", reason)
        }
    }

    public func markCanceled(_ lease: Lease) throws {
        let id = lease.job
        try holding(lease) { db in
            try db.execute(sql: "UPDATE jobs SET status = ?, output = NULL, finished_at = ?, worker = NULL, resume_tile_rows = 0, resume_key = NULL, lease_token = NULL WHERE id = ?",
                           arguments: [Job.Status.canceled, Self.now, id])
            try Self.log(db, id, "canceled", "stopped")
        }
    }

    public func recoverRunning() throws -> Int {
        try database.write { db in
            let ids = try Int64.fetchAll(db, Job.select(Job.Columns.id).filter(Job.Columns.status == Job.Status.running))
            for id in ids {
                try db.execute(sql: "UPDATE jobs SET status = ?, worker = NULL, tiles_done = 0, lease_token = NULL WHERE id = ?", arguments: [Job.Status.queued, id])
                try Self.log(db, id, "recovered", "was running when the daemon stopped")
            }
            return ids.count
        }
    }

    public func unsettled(under folder: String, age: Double) throws -> [Job] {
        try database.read { db in
            try Self.sources(under: folder, Job.filter([Job.Status.done, .failed].contains(Job.Columns.status) && Job.Columns.origin == Job.Origin.inbox
                                                      ).filter(sql: "finished_at IS NULL OR finished_at <= ?", arguments: [Self.now - age]))
                .fetchAll(db)
        }
    }

    /// The jobs of `request` whose source is in `folder` and has not been removed.
    private static func sources(under folder: String, _ request: QueryInterfaceRequest<Job>) -> QueryInterfaceRequest<Job> {
        // substr, not LIKE: LIKE ignores case, and paths do not.
        // Bands have their job's source; only the job settles it.
        request.filter(sql: "band = 0 AND source_removed_at IS NULL AND substr(source, 1, ?) = ?", arguments: [folder.count + 1, folder + "/"])
    }

    // MARK: styles

    public func register(styles: [StyleRecord]) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM styles")
            for style in styles {
                try db.execute(sql: "INSERT INTO styles (name, file, digest, metrics, registered_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [style.name, style.file, style.digest, style.metrics, Self.now])
            }
        }
    }

    public func styles() throws -> [StyleRecord] {
        try database.read { db in try StyleRecord.fetchAll(db, sql: "SELECT * FROM styles ORDER BY name") }
    }

    // MARK: the CLI's requests

    public func request(_ request: JobRequest, job id: Int64) throws -> Job {
        try database.write { db in
            guard let job = try Job.fetchOne(db, key: id) else { throw JobStoreError("no job \(id)") }
            if let parent = job.parentId { throw JobStoreError("job \(id) is band \(job.band) of job \(parent); ask about job \(parent)") }
            switch (request, job.status) {
            case (.cancel, .queued):
                try db.execute(sql: "UPDATE jobs SET status = ?, finished_at = ? WHERE id = ?", arguments: [Job.Status.canceled, Self.now, id])
                try Self.log(db, id, "canceled", job.bands > 0 ? "with its bands" : "before it started")
                try Self.stopBands(db, of: id)
            case (.cancel, .running):
                try db.execute(sql: "UPDATE jobs SET cancel_requested = 1 WHERE id = ?", arguments: [id])
                try Self.log(db, id, "cancel", "requested")
            case (.rerun, .done) where job.origin == .submit:
                try db.execute(sql: "UPDATE jobs SET status = ?, attempts = 0, error = NULL, output = NULL, tiles_done = 0, cancel_requested = 0, not_before = 0, finished_at = NULL WHERE id = ?",
                               arguments: [Job.Status.queued, id])
                try Self.log(db, id, "queued", "run again (--force)")
            case (.rerun, .done):
                throw JobStoreError("job \(id) came from the inbox and its file is archived; drop it in the inbox again to rerun it")
            case (.retry, .failed), (.retry, .canceled), (.rerun, .failed), (.rerun, .canceled):
                // A split job starts over whole: its bands go (a worker still on one loses its lease).
                try db.execute(sql: "DELETE FROM jobs WHERE parent_id = ?", arguments: [id])
                try db.execute(sql: """
                    UPDATE jobs SET status = ?, attempts = 0, error = NULL, cancel_requested = 0, not_before = 0, finished_at = NULL, bands = 0, bands_pending = 0
                    WHERE id = ?
                    """, arguments: [Job.Status.queued, id])
                try Self.log(db, id, "queued", "retry requested")
            default:
                let hint = request == .retry && job.status == .done ? " without --force" : ""
                throw JobStoreError("job \(id) is \(job.status.rawValue); cannot \(request == .cancel ? "cancel" : "retry") it\(hint)")
            }
            return try Job.fetchOne(db, key: id)!
        }
    }

    // MARK: reading

    public func jobs(status: Job.Status? = nil, style: String? = nil, limit: Int = 100) throws -> [Job] {
        try database.read { db in
            var request = Job.all()
            if let status { request = request.filter(Job.Columns.status == status) }
            if let style { request = request.filter(Job.Columns.style == style) }
            return try request.order(Job.Columns.id.desc).limit(limit).fetchAll(db)
        }
    }

    public func bands(of id: Int64) throws -> [Job] {
        try database.read { db in try Job.filter(Column("parent_id") == id).order(Column("band")).fetchAll(db) }
    }

    public func job(_ id: Int64) throws -> (Job, [JobEvent])? {
        try database.read { db in
            guard let job = try Job.fetchOne(db, key: id) else { return nil }
            return (job, try JobEvent.filter(Column("job_id") == id).order(Column("id")).fetchAll(db))
        }
    }

    public func summary() throws -> QueueSummary {
        try database.read { db in
            var counts: [Job.Status: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM jobs GROUP BY status") {
                if let s = Job.Status(rawValue: row["status"]) { counts[s] = row["n"] }
            }
            let running = try Job.filter(Job.Columns.status == Job.Status.running).order(Job.Columns.id).fetchAll(db)
            var tiles: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT coalesce(daemon, ''), sum(tiles) FROM progress_samples WHERE at >= ? GROUP BY 1",
                                        arguments: [Self.now - 60]) {
                tiles[row[0]] = row[1]
            }
            let daemons = try DaemonRecord.fetchAll(db, sql: "SELECT * FROM daemons WHERE stopped_at IS NULL ORDER BY heartbeat_at DESC")
            return QueueSummary(counts: counts, running: running, tilesLastMinute: tiles, daemons: daemons, now: Self.now)
        }
    }

    // MARK: the daemon's own row

    public func daemonStarted(id: String, pid: Int32, host: String, version: String) throws {
        try database.write { db in
            let now = Self.now
            try db.execute(sql: "UPDATE daemons SET stopped_at = ? WHERE stopped_at IS NULL AND host = ? AND id != ?", arguments: [now, host, id])
            try db.execute(sql: "INSERT OR REPLACE INTO daemons (id, pid, host, version, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [id, pid, host, version, now, now])
            try db.execute(sql: "DELETE FROM progress_samples WHERE at < ?", arguments: [now - 3600])
        }
    }

    public func heartbeat(id: String, leases: [Lease], leaseSeconds: Double) throws -> Set<Lease> {
        try database.write { db in
            let now = Self.now
            try db.execute(sql: "UPDATE daemons SET heartbeat_at = ? WHERE id = ?", arguments: [now, id])
            var lost = Set<Lease>()
            for lease in leases {
                try db.execute(sql: "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND lease_token = ? AND status = ?",
                               arguments: [now + leaseSeconds, lease.job, lease.token, Job.Status.running])
                if db.changesCount == 0 { lost.insert(lease) }
            }
            return lost
        }
    }

    /// One daemon owns the file and takes back its running jobs at start (`recoverRunning`).
    public func sweep(attempts: Int) throws -> [Job] { [] }

    public func daemonStopped(id: String) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE daemons SET stopped_at = ? WHERE id = ?", arguments: [Self.now, id])
        }
    }

    static func log(_ db: Database, _ id: Int64, _ kind: String, _ message: String) throws {
        try db.execute(sql: "INSERT INTO job_events (job_id, at, kind, message) VALUES (?, ?, ?, ?)", arguments: [id, now, kind, message])
    }
}

extension DaemonRecord: FetchableRecord {
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}

extension StyleRecord: FetchableRecord {}
