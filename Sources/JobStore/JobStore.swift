// The job queue behind one interface, on either backend: SQLite for one host (the default, a file
// beside the daemon) or PostgreSQL for many daemons on many hosts sharing one queue. Both keep the
// same schema, state machine and leases; the daemon and the CLI see only this protocol.
//
// Leases: a claim hands the worker a token, and every write about the running job (progress, its
// strips, its output, its end) carries it. A worker whose lease ran out (paused, cut off from the
// database) finds its writes refused with `LeaseLost` and drops its work: the job is someone else's.

import Foundation

/// The job queue and what the daemon and CLI record: jobs and their events, styles, daemons.
public protocol JobStore: Sendable {
    /// Where the store is, as messages show it (a file path, or the database's URL without its password).
    var location: String { get }

    // MARK: enqueueing

    /// Adds a job unless the same file was ever enqueued for the same style; returns the job's id
    /// and whether it is new. With `failing`, the new job is failed at once with that reason (a
    /// dropped entry that is not an image file).
    func enqueue(_ new: NewJob, failing: String?) throws -> (id: Int64, added: Bool)
    /// Whether a job exists for this file under this path (checked before hashing it).
    func isKnown(source: String, identity: FileIdentity) throws -> Bool
    /// Calls `wake` when another process queues a job (a shared queue's other daemons), so idle
    /// workers claim it at once rather than at their next poll.
    func onNewJobs(_ wake: @escaping @Sendable () -> Void)

    // MARK: workers

    /// Takes the next runnable job (priority, then age), marks it running and leases it to
    /// `worker` for `leaseSeconds`; the job carries the lease.
    func claim(worker: String, leaseSeconds: Double) throws -> Job?
    /// Picks the job's output path once, so a rerun after a crash finds what an earlier attempt
    /// wrote. `choose` gets the outputs other unfinished jobs have reserved and must avoid them.
    func reserveOutput(_ lease: Lease, choose: (Set<String>) -> String) throws -> String
    /// Splits a running job over a huge image into bands, one per range of tile rows, that any
    /// worker may take as jobs of their own. The job waits (queued but not claimable, the attempt
    /// not counted) until the finish of its last band makes it claimable again: then a worker
    /// assembles the output from the bands' work files. A band that fails for good fails its job.
    func split(_ lease: Lease, bands: [Range<Int>]) throws
    /// Records progress; returns whether someone asked to cancel the job.
    func progress(_ lease: Lease, done: Int, total: Int, newTiles: Int) throws -> Bool
    /// Records that the first `tileRows` tile rows of the output are safely in its work file, made as `key` says.
    func checkpoint(_ lease: Lease, tileRows: Int, key: String) throws
    /// Adds an event to a job's history.
    func note(_ id: Int64, kind: String, message: String) throws
    /// Marks the job done with its output (a band: with none, counting down its job's bands).
    func finish(_ lease: Lease, output: String, tiles: Int) throws
    /// Marks the job failed for good, with the reason.
    func fail(_ lease: Lease, reason: String) throws
    /// A transient failure: queued again after `delay` seconds.
    func retryLater(_ lease: Lease, reason: String, delay: Double) throws
    /// Shutdown in the middle of a job: back to the queue, the attempt not counted.
    func requeue(_ lease: Lease, reason: String) throws
    /// Marks the job canceled once its worker has stopped.
    func markCanceled(_ lease: Lease) throws

    // MARK: settling sources

    /// Picks where a finished job's source goes (archive/ or failed/) once. `choose` gets the
    /// destinations other unsettled jobs have reserved; with `again` the reservation is made anew.
    func reserveDestination(_ id: Int64, again: Bool, choose: (Set<String>) throws -> String) throws -> String
    /// Records where a job's source was moved, and the file it is there when the move was a copy.
    func moved(_ id: Int64, source: String, identity: FileIdentity?) throws
    /// Records that a job's source was removed (`after: delete`, or archive retention).
    func removedSource(_ id: Int64, reason: String) throws
    /// Done inbox jobs whose source has been in `folder` since before `finishedBefore`.
    func archived(under folder: String, finishedBefore: Double) throws -> [Job]
    /// Inbox jobs finished at least `age` seconds ago (the store's clock) whose source is still
    /// under `folder`: the daemon stopped, or lost the store, before it moved the source.
    func unsettled(under folder: String, age: Double) throws -> [Job]

    // MARK: recovery

    /// At daemon start, jobs left running by a crash of the daemon before it go back to the queue
    /// (their attempt counts). On a shared queue that is the sweeper's work, and this does nothing.
    func recoverRunning() throws -> Int
    /// Jobs whose lease ran out (their worker died, hung or lost the database) go back to the
    /// queue after a backoff, or fail once they used `attempts`; returns the failed ones. Where
    /// several daemons share the queue, one sweeps at a time and the others return at once.
    func sweep(attempts: Int) throws -> [Job]

    // MARK: daemons

    /// Registers a daemon (retiring this host's earlier ones that no longer run) and trims old progress samples.
    func daemonStarted(id: String, pid: Int32, host: String, version: String) throws
    /// Shows the daemon alive and extends the leases it holds by `leaseSeconds`; returns the ones it lost.
    func heartbeat(id: String, leases: [Lease], leaseSeconds: Double) throws -> Set<Lease>
    /// Records a clean stop.
    func daemonStopped(id: String) throws

    // MARK: styles

    /// Replaces the registered styles with `styles`.
    func register(styles: [StyleRecord]) throws
    /// The styles the daemons serve, by name.
    func styles() throws -> [StyleRecord]

    // MARK: the CLI

    /// Cancels a queued or running job, requeues a failed or canceled one (`retry`), or also a
    /// done one that was submitted (`rerun`); returns the job afterwards, or throws a one-line reason.
    func request(_ request: JobRequest, job id: Int64) throws -> Job
    /// Jobs, newest first, optionally of one status or style.
    func jobs(status: Job.Status?, style: String?, limit: Int) throws -> [Job]
    /// The bands of a split job, in order.
    func bands(of id: Int64) throws -> [Job]
    /// A job and its history, oldest event first.
    func job(_ id: Int64) throws -> (Job, [JobEvent])?
    /// The queue at a glance.
    func summary() throws -> QueueSummary
}

extension JobStore {
    /// Every finished inbox job whose source is still under `folder`.
    public func unsettled(under folder: String) throws -> [Job] { try unsettled(under: folder, age: 0) }

    /// A lease's default length, in seconds.
    public static var defaultLeaseSeconds: Double { 60 }

    /// Adds a job unless the same file was ever enqueued for the same style.
    @discardableResult
    public func enqueue(_ new: NewJob) throws -> (id: Int64, added: Bool) { try enqueue(new, failing: nil) }
    /// Takes the next runnable job on the default lease.
    public func claim(worker: String) throws -> Job? { try claim(worker: worker, leaseSeconds: Self.defaultLeaseSeconds) }
    /// Records where a job's source was moved.
    public func moved(_ id: Int64, source: String) throws { try moved(id, source: source, identity: nil) }
    /// Picks where a finished job's source goes, once.
    public func reserveDestination(_ id: Int64, choose: (Set<String>) throws -> String) throws -> String {
        try reserveDestination(id, again: false, choose: choose)
    }
    /// Jobs, newest first.
    public func jobs(status: Job.Status? = nil, style: String? = nil) throws -> [Job] { try jobs(status: status, style: style, limit: 100) }
}

/// A worker's hold on a running job: the job and the token its claim was given.
public struct Lease: Sendable, Hashable {
    public let job: Int64
    public let token: String
    /// A lease on `job` under `token`.
    public init(job: Int64, token: String) { (self.job, self.token) = (job, token) }
}

/// A write about a job whose lease its worker no longer holds: the lease ran out and the job was
/// queued again (and perhaps taken by another worker), or it ended. The work is to be dropped.
public struct LeaseLost: Error, CustomStringConvertible, Sendable {
    public let job: Int64
    /// The lease on `job` is lost.
    public init(job: Int64) { self.job = job }
    public var description: String { "job \(job): its lease ran out and it was given to another worker; this attempt's work is dropped" }
}

/// What the CLI asks of a job.
public enum JobRequest: Sendable { case cancel, retry, rerun }

/// What `tessera status` shows: counts per status, the running jobs, recent throughput, the daemons.
public struct QueueSummary: Sendable {
    public var counts: [Job.Status: Int]
    public var running: [Job]
    /// Tiles finished in the last minute by each daemon (its id; "" for samples from before v8).
    public var tilesLastMinute: [String: Int]
    /// Daemons that have not stopped, most recent heartbeat first.
    public var daemons: [DaemonRecord]
    /// The store's clock when this was read (a shared store's heartbeats are on its clock).
    public var now: Double
}

/// A daemon as the `daemons` table holds it.
public struct DaemonRecord: Codable, Sendable {
    public var id: String
    public var pid: Int
    public var host: String
    public var version: String?
    public var startedAt: Double
    public var heartbeatAt: Double
    public var stoppedAt: Double?

    /// Alive at `now` (the store's clock): a heartbeat within `within` seconds and, on this host,
    /// a process with that pid.
    public func isAlive(at now: Double, within: Double = 15) -> Bool {
        guard stoppedAt == nil, now - heartbeatAt < within else { return false }
        if host == ProcessInfo.processInfo.hostName { return kill(pid_t(pid), 0) == 0 || errno == EPERM }
        return true
    }
}

/// A style the daemon serves, as the `styles` table holds it.
public struct StyleRecord: Codable, Sendable, Equatable {
    public var name: String
    public var file: String
    public var digest: String
    public var metrics: String?
    /// A style record.
    public init(name: String, file: String, digest: String, metrics: String?) {
        (self.name, self.file, self.digest, self.metrics) = (name, file, digest, metrics)
    }
}

/// A store operation that cannot be done, with the reason.
public struct JobStoreError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// An error with this reason.
    public init(_ description: String) { self.description = description }
}
