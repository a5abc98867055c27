// The daemon: a watcher thread that turns stable inbox files into jobs and keeps the heartbeat,
// and worker threads that run jobs: stylize into outbox/<style>/ (never overwriting), mark done,
// then archive the source; on failure record the reason and move the source to failed/<style>/
// beside <name>.error.txt. Runs as a swift-service-lifecycle Service: SIGTERM or SIGINT stops
// taking jobs, puts the running ones back in the queue and exits 0. SIGHUP reloads the styles.
//
// Files are reached only through the folders' descriptors (see Folder.swift): no symbolic link
// is followed, nothing is replaced, and a job works on the file it queued (device and inode), never
// on another put under the same name.
//
// A kill -9 can land anywhere; a restart repairs each window: running jobs are queued again, a
// job's output name is reserved in the database before it is written (so a rerun whose earlier
// attempt got as far as the rename just records it), a source's place in archive/ or failed/ is
// reserved before the move (so an interrupted move is finished there, once), temporary files of
// dead writers are removed, and finished jobs whose source is still in the inbox are settled then.
//
// Memory: a job takes its image's memory need from the daemon's budget before anything is decoded
// (and waits while the running jobs hold too much); images that need random access are decoded
// into unnamed files in the work folder. A long job keeps its finished strips in work/job-N.strips
// (a StripJournal), so the next attempt after a crash or a stop continues where it was.
//
// Each claim is a lease that the watcher thread renews every `heartbeat_seconds`. A job whose lease
// was lost (this daemon was paused or cut off from the database past `lease_seconds`, and the
// sweeper gave the job to another daemon) is stopped and its work dropped: no write about it is
// accepted, and its output is refused just before it would be put in place. On a shared queue the
// watcher thread also sweeps: claims that ran out go back to the queue, or fail after `attempts`.

import CLinux
import Foundation
import Imaging
import JobStore
import Logging
import ServiceLifecycle
import Settings
import Styles
import Synchronization

/// The daemon as a service: it watches the inbox, runs jobs on its workers, moves sources out and recovers after a crash.
public final class Daemon: Service, @unchecked Sendable {
    let settings: Settings
    let store: any JobStore
    let registry: StyleRegistry
    let logger: Logger
    let id: String
    private let notifier = SystemdNotifier()
    private let stopping = Mutex(false)
    private let wake = NSCondition()
    private let styleCache = Mutex<[String: (style: Style, digest: String)]>([:])
    private let inbox: Folder, outbox: Folder, archive: Folder, failed: Folder, work: Folder
    private let budget: MemoryBudget
    /// The leases this daemon's workers hold, and those the store said were lost.
    private let leases = Mutex((held: Set<Lease>(), lost: Set<Lease>()))
    /// Images from this size on keep their finished strips for a later attempt.
    static let journaledPixels = 4_000_000
    /// Found files are hashed and queued off the watcher thread, in order, on `queue`; a file
    /// whose reading hangs (a stalled network file system) is left behind on its queue after
    /// `Self.hashLimit` seconds and later files go to a fresh one, so the watcher and its
    /// heartbeat never wait and one stuck file never stops the others.
    private let hashing = Mutex((queue: DispatchQueue(label: "tessera.hashing"), busy: (path: String, since: Date)?.none,
                                 pending: Set<String>()))
    private static let hashLimit = 30.0

    /// A daemon over these settings, opening (and migrating) its database and its folders.
    public init(settings: Settings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        umask(settings.umask)
        // Blocks over 1 MB are mapped and unmapped on their own, so memory a job frees goes back to
        // the system at once: glibc otherwise raises this threshold as large blocks are freed and
        // keeps them in per-thread arenas, and the next job's need comes on top (980 MB measured
        // for two 225-megapixel progressive JPEGs one after the other, 741 MB for one).
        tessera_map_large_blocks(1 << 20)
        store = try settings.openStore()
        (inbox, outbox, archive, failed) = try (Folder(configured: settings.inbox), Folder(configured: settings.outbox),
                                                Folder(configured: settings.archive), Folder(configured: settings.failed))
        work = try Folder(configured: settings.work)
        budget = MemoryBudget(megabytes: settings.memoryBudget)
        registry = StyleRegistry(directory: URL(fileURLWithPath: settings.models))
        id = "\(ProcessInfo.processInfo.hostName):\(getpid())"
    }

    /// Runs until graceful shutdown: running jobs go back to the queue and it returns.
    public func run() async throws {
        let watcher = try await onOwnThread { [self] in try start() }
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler { [self] in reloadStyles() }
        hangup.resume()
        defer { hangup.cancel() }
        // Ready once the inbox is watched, and before the watcher thread's first WATCHDOG=1.
        notifier.send("READY=1\nSTATUS=watching \(settings.inbox)\nMAINPID=\(getpid())")
        let finished = DispatchGroup()
        let watch = Thread { [self] in watchLoop(watcher); finished.leave() }
        finished.enter(); watch.start()
        for n in 0..<settings.workers {
            let worker = Thread { [self] in workLoop(name: "\(id)/\(n)"); finished.leave() }
            finished.enter(); worker.start()
        }
        try? await gracefulShutdown()
        logger.info("stopping: running jobs go back to the queue")
        notifier.send("STOPPING=1")
        stopping.withLock { $0 = true }
        wake.broadcast()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in finished.notify(queue: .global()) { c.resume() } }
        _ = try? await onOwnThread { [self] in try store.daemonStopped(id: id) }
        logger.info("stopped")
    }

    /// What the daemon does before it takes jobs: registers itself, takes back what a crash left
    /// (jobs, temporaries, strips, unmoved sources), loads the styles and watches the inbox.
    private func start() throws -> InboxWatcher {
        try store.daemonStarted(id: id, pid: getpid(), host: ProcessInfo.processInfo.hostName, version: Self.version)
        let recovered = try store.recoverRunning()
        removeDeadWritersTemporaries()
        for name in work.names() { // strips of jobs that ended, or that the database no longer has
            guard let id = Self.job(ofWorkFile: name) else { continue }
            if let (job, _) = try store.job(id), [.queued, .running].contains(job.status) { continue }
            work.remove(name)
        }
        for job in try store.unsettled(under: settings.inbox) { settle(job) }
        for job in try store.unsettled(under: settings.failed) where job.status == .done { settle(job) } // retried, then cut short
        reloadStyles()
        store.onNewJobs { [wake] in wake.broadcast() }
        logger.info("tessera daemon started", metadata: ["store": "\(settings.store)", "inbox": "\(settings.inbox)",
                                                       "styles": "\(registry.names().joined(separator: ","))", "requeued": "\(recovered)"])
        return try InboxWatcher(inbox: inbox, styles: { [registry] in registry.names() }, stable: settings.stableSeconds,
                                mode: settings.watch, pollSeconds: settings.pollSeconds, warn: { [logger] in logger.warning("\($0)") })
    }

    /// Removes what writers that died mid-write left: this host's by their pids, another host's
    /// (folders shared through a PostgreSQL store) once the store has no live daemon of that host
    /// and pid. Outputs and error files go through temporaries, deleted sources too.
    private func removeDeadWritersTemporaries() {
        var others: Set<String>? // "host:pid" of the other hosts' live daemons, read when first needed
        func isDead(_ pid: Int32, _ host: String) -> Bool {
            if host == TemporaryWriter.host { return TemporaryWriter.isDead(pid: pid) }
            if others == nil {
                guard let summary = try? store.summary() else { return false }
                others = Set(summary.daemons.filter { $0.isAlive(at: summary.now, within: settings.leaseSeconds) }
                    .map { "\(TemporaryWriter.shortName(of: $0.host)):\($0.pid)" })
            }
            return others?.contains("\(host):\(pid)") == false
        }
        for root in [outbox, failed, inbox] {
            for style in root.names() {
                for name in (try? root.subfolder(style, create: false))?.removeStaleTemporaries(isDead: isDead) ?? [] {
                    logger.info("removed a dead writer's temporary file \(root.shown("\(style)/\(name)"))")
                }
            }
        }
    }

    /// Settles finished jobs whose sources were left in the inbox a while ago: their daemon could
    /// not move them (the database was unreachable at that moment) or died first.
    private func settleLeftovers() {
        do {
            for job in try store.unsettled(under: settings.inbox, age: 3 * settings.scanSeconds) { settle(job) }
        } catch { logger.error("settling finished jobs: \(error)") }
    }

    /// The version daemons record in the store, for `tessera status`.
    public static let version = "0.9.0"

    /// Forgets loaded models (a retrained style is read again) and registers the styles the models
    /// folder holds in the database.
    private func reloadStyles() {
        styleCache.withLock { $0 = [:] }
        var records: [StyleRecord] = []
        for name in registry.names() {
            do {
                let file = try registry.file(name).path
                let style = try registry.style(name)
                records.append(StyleRecord(name: name, file: file, digest: try ContentDigest.of(file: file), metrics: style.metrics))
            } catch {
                logger.error("style \(name) is not served: \(error)")
            }
        }
        do { try store.register(styles: records) } catch { logger.error("cannot register styles: \(error)") }
        logger.info("styles loaded", metadata: ["styles": "\(records.map(\.name).joined(separator: ","))"])
        wake.broadcast()
    }

    private var isStopping: Bool { stopping.withLock { $0 } }

    private func watchLoop(_ watcher: InboxWatcher) {
        var lastScan = Date(), lastBeat = Date.distantPast, lastRenewal = Date(), lastSweep = Date.distantPast, lastCleanup = Date()
        while !isStopping {
            for found in watcher.poll() { hashAndEnqueue(found) }
            if Date().timeIntervalSince(lastScan) >= settings.scanSeconds {
                watcher.rescan()
                settleLeftovers()
                pruneArchive()
                lastScan = Date()
            }
            if Date().timeIntervalSince(lastBeat) >= min(2, settings.heartbeatSeconds, (notifier.watchdogInterval ?? 4) / 2) {
                // The watchdog is fed only while the database takes writes.
                do {
                    let renewing = Date().timeIntervalSince(lastRenewal) >= settings.heartbeatSeconds
                    let held = renewing ? leases.withLock { Array($0.held) } : []
                    let lost = try store.heartbeat(id: id, leases: held, leaseSeconds: settings.leaseSeconds)
                    if renewing { lastRenewal = Date() }
                    if !lost.isEmpty { leases.withLock { $0.lost.formUnion(lost) } }
                    notifier.send("WATCHDOG=1")
                } catch { logger.error("heartbeat: \(error)") }
                lastBeat = Date()
            }
            if Date().timeIntervalSince(lastSweep) >= settings.sweepSeconds {
                do {
                    for job in try store.sweep(attempts: settings.attempts) {
                        logger.error("job \(job.id) failed: \(job.error ?? "its lease ran out")")
                        settle(job)
                    }
                } catch { logger.error("sweep: \(error)") }
                lastSweep = Date()
            }
            // A host that died leaves its temporaries to the others: every ten sweeps, at least a lease apart.
            if Date().timeIntervalSince(lastCleanup) >= max(10 * settings.sweepSeconds, settings.leaseSeconds) {
                removeDeadWritersTemporaries()
                lastCleanup = Date()
            }
            usleep(100_000)
        }
    }

    private func hashAndEnqueue(_ found: InboxWatcher.Found) {
        let path: String = switch found {
        case let .file(style, name, _), let .refused(style, name, _, _): "\(inbox.path)/\(style)/\(name)"
        }
        let queue: DispatchQueue? = hashing.withLock { h in
            guard h.pending.insert(path).inserted else { return nil } // found again while waiting
            if let busy = h.busy, Date().timeIntervalSince(busy.since) > Self.hashLimit {
                logger.warning("reading \(Shown.name(busy.path)) has taken over \(Int(Self.hashLimit)) s; the files after it are queued without waiting for it")
                h.queue = DispatchQueue(label: "tessera.hashing")
                h.busy = nil
            }
            return h.queue
        }
        queue?.async { [self] in
            hashing.withLock { $0.busy = (path, Date()) }
            enqueue(found)
            hashing.withLock { h in
                h.pending.remove(path)
                if h.busy?.path == path { h.busy = nil }
            }
        }
    }

    /// Queues a found file, hashed through a descriptor opened without following links; an
    /// entry that is not a regular file becomes a failed job (moved to failed/ with its reason).
    private func enqueue(_ found: InboxWatcher.Found) {
        let (style, name, identity, refusal): (String, String, FileIdentity, String?) = switch found {
        case let .file(style, name, identity): (style, name, identity, nil)
        case let .refused(style, name, identity, reason): (style, name, identity, reason)
        }
        let path = "\(inbox.path)/\(style)/\(name)"
        do {
            guard try !store.isKnown(source: path, identity: identity) else { return }
            if let refusal {
                let new = NewJob(source: path, style: style, identity: identity, digest: "", origin: .inbox)
                let job = try store.enqueue(new, failing: "\(Shown.name(path)): \(refusal)")
                guard job.added else { return }
                logger.error("job \(job.id) failed: \(Shown.name(path)): \(refusal)")
                if let (failedJob, _) = try store.job(job.id) { settle(failedJob) }
                return
            }
            let folder = try inbox.subfolder(style, create: false)
            let fd: Int32, opened: FileIdentity
            do { (fd, opened) = try folder.openRegular(name) } catch let e as ImageError {
                // Gone since it was found: nothing to say. Unreadable (permission denied): a failed job.
                if e.reason != "no such file" { enqueue(.refused(style: style, name: name, identity: identity, reason: e.reason)) }
                return
            }
            defer { close(fd) }
            guard opened == identity else { return } // changed since it was stable: found again later
            var new = NewJob(source: path, style: style, identity: identity, digest: try ContentDigest.of(descriptor: fd, path: path), origin: .inbox)
            new.stillInPlace = { folder.entry(name).map { FileIdentity($0) == identity } ?? false }
            let job = try store.enqueue(new)
            if job.added {
                logger.info("queued", metadata: ["job": "\(job.id)", "file": "\(Shown.name(path))", "style": "\(style)"])
                wake.broadcast()
            }
        } catch is SourceMoved {
            return // its job finished and moved it meanwhile (another daemon's, on a shared inbox)
        } catch {
            logger.error("cannot queue \(Shown.name(path)): \(Shown.name("\(error)"))")
        }
    }

    private func workLoop(name: String) {
        while !isStopping {
            let job: Job?
            do { job = try store.claim(worker: name, leaseSeconds: settings.leaseSeconds) } catch {
                logger.error("claim: \(error)")
                job = nil
            }
            guard let job, let lease = job.lease else {
                wake.lock()
                _ = wake.wait(until: Date().addingTimeInterval(0.25))
                wake.unlock()
                continue
            }
            leases.withLock { _ = $0.held.insert(lease) }
            process(job, lease)
            leases.withLock { l in
                l.held.remove(lease)
                l.lost.remove(lease)
            }
        }
    }

    /// A style and the digest of its model file (what a job's kept strips were made with).
    private func style(_ name: String) throws -> (style: Style, digest: String) {
        if let cached = styleCache.withLock({ $0[name] }) { return cached }
        let loaded = (style: try registry.style(name), digest: try ContentDigest.of(file: try registry.file(name).path))
        styleCache.withLock { $0[name] = loaded }
        return loaded
    }

    private static func stripsFile(_ id: Int64) -> String { "job-\(id).strips" }
    private static func bandFile(of band: Job) -> String { "job-\(band.parentId ?? 0).band-\(band.band).strips" }
    /// The job a work file is of (its strips, or one of its bands'), from the file's name.
    private static func job(ofWorkFile name: String) -> Int64? { Int64(name.wholeMatch(of: /job-([0-9]+)(\.band-[0-9]+)?\.strips/)?.1 ?? "") }

    /// Removes a job's work files: its strips and its bands'.
    private func removeWorkFiles(of id: Int64) {
        for name in work.names() where Self.job(ofWorkFile: name) == id { work.remove(name) }
    }

    /// Removes the work files of a job that ended unfinished: a band's own, or a job's and its bands'.
    private func discardWork(of job: Job) {
        job.band > 0 ? work.remove(Self.bandFile(of: job)) : removeWorkFiles(of: job.id)
    }

    /// Why a running job stopped before its end.
    private enum Interruption { case canceled, daemonStopping, leaseLost }

    private func isLost(_ lease: Lease) -> Bool { leases.withLock { $0.lost.contains(lease) } }

    /// What a running job last reported, shared with its progress callback.
    private final class Reported: Sendable {
        let state = Mutex((done: 0, at: Date.distantPast, stop: Interruption?.none))
    }

    /// Where an inbox job's source is now: in its style folder in the inbox, or in failed/<style>/
    /// once it failed (a retry reads it there).
    private func place(of job: Job) throws -> (folder: Folder, name: String, inFailed: Bool) {
        let name = (job.source as NSString).lastPathComponent
        let inFailed = (job.source as NSString).deletingLastPathComponent == "\(failed.path)/\(job.style)"
        return (try (inFailed ? failed : inbox).subfolder(job.style, create: false), name, inFailed)
    }

    /// Opens a job's source: an inbox file through its style folder without following links, a
    /// submitted one where it was named; either way only the file that was queued.
    private func openSource(_ job: Job) throws -> Int32 {
        let fd: Int32
        if job.origin == .inbox {
            let (folder, name, _) = try place(of: job)
            fd = try folder.openRegular(name).descriptor
        } else {
            fd = open(job.source, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { throw ImageError(job.source, String(cString: strerror(errno))) }
        }
        var s = stat()
        fstat(fd, &s)
        let now = FileIdentity(s), queued = job.identity
        // Jobs queued before identities were kept have none (0, 0).
        guard queued.device == 0 && queued.inode == 0 || (now.isSameFile(as: queued) && now.size == queued.size && now.mtime == queued.mtime) else {
            close(fd)
            throw SourceReplaced(path: job.source)
        }
        return fd
    }

    private func process(_ job: Job, _ lease: Lease) {
        let started = Date()
        var memory = 0
        defer {
            if memory > 0 {
                tessera_release_freed_memory()
                budget.give(memory)
            }
        }
        do {
            let (style, digest) = try style(job.style)
            let outFolder = try outbox.subfolder(job.style)
            if job.band == 0, let earlier = job.output, let s = outFolder.entry((earlier as NSString).lastPathComponent), (s.st_mode & S_IFMT) == S_IFREG {
                // An earlier attempt renamed its output into place and died before recording it.
                try store.finish(lease, output: earlier, tiles: job.tilesTotal)
                removeWorkFiles(of: job.id)
                logger.info("done by an earlier attempt", metadata: ["job": "\(job.id)", "output": "\(Shown.name(earlier))"])
                return settle(job, as: .done)
            }
            let fd = try openSource(job)
            defer { close(fd) }
            let source = try ImageSource(descriptor: fd, path: job.source, pixelLimit: settings.maxMegapixels * 1_000_000,
                                         scratch: ScratchFolder(descriptor: work.descriptor, path: work.path)) { need in
                try budget.take(need, for: job.source, waiting: { [self] taken, available in
                    let message = "needs \(megabytes(need)) MB of memory; running jobs hold \(megabytes(taken)) of \(megabytes(available)) MB"
                    logger.info("job \(job.id) waits for memory: \(message)")
                    try? store.note(job.id, kind: "waiting", message: message)
                }, stop: { [self] in isStopping })
                memory = need
            }
            let format = source.format ?? .png
            let key = "\(digest) \(source.width)x\(source.height) \(format.rawValue)"
            if let rows = job.bandRows { return try render(band: rows, of: job, lease, source, style: style, format: format, key: key) }
            if job.bands == 0, let bands = bands(of: source) {
                removeWorkFiles(of: job.id) // an earlier split's bands (the job was retried)
                try store.split(lease, bands: bands)
                logger.info("job \(job.id) split into \(bands.count) bands of up to \(bands[0].count * TileGrid.outputSize) rows")
                wake.broadcast()
                return
            }
            var name = FileName.escapingRawBytes(job.name) // outputs get valid UTF-8 names
            if source.format == nil { name = (name as NSString).deletingPathExtension + ".png" }
            let output = try store.reserveOutput(lease) { "\(outFolder.path)/" + outFolder.freeName(name, taken: $0) }
            // Written inside the folder opened above, whatever its name points to by now.
            let written = "/proc/self/fd/\(outFolder.descriptor)"
            let target = URL(fileURLWithPath: "\(written)/\((output as NSString).lastPathComponent)")
            let journal = job.bands > 0 ? try assembly(of: job, source) : try strips(of: job, lease, source, key: key)
            defer { journal?.descriptors.forEach { close($0) } }
            let reported = Reported()
            let stylizer = Stylizer(style: style, threads: settings.threads)
            let result: Stylizer.Result
            do {
                result = try stylizer.stylize(source, to: target, options: SaveOptions(format: format), journal: journal?.journal,
                                              progress: reporter(lease, reported), beforePublishing: { [self] in
                    // The lease is checked with the store, not only with the last heartbeat: a
                    // daemon resumed after a pause may not have heard yet that it lost the job.
                    if isLost(lease) { throw LeaseLost(job: job.id) }
                    if try !store.heartbeat(id: id, leases: [lease], leaseSeconds: settings.leaseSeconds).isEmpty { throw LeaseLost(job: job.id) }
                })
            } catch {
                if try stopped(job, lease, reported, error) { return }
                guard let e = error as? ImageError, e.path.hasPrefix(written) else { throw error }
                // Savers say "write failed" or less; a full disk is what the user must hear.
                var space = statvfs()
                let full = fstatvfs(outFolder.descriptor, &space) == 0 && UInt64(space.f_bavail) * UInt64(space.f_frsize) < 1 << 20
                throw ImageError(outFolder.path + e.path.dropFirst(written.count), full ? "no space left on device (\(outFolder.path))" : e.reason)
            }
            try store.finish(lease, output: output, tiles: result.tiles)
            removeWorkFiles(of: job.id)
            if let failure = journal?.journal.failure { logger.warning("job \(job.id): its strips could not be kept: \(failure)") }
            // An assembly computed nothing: its bands counted their tiles.
            let computed = job.bands > 0 ? 0 : result.tiles - reported.state.withLock { $0.done }
            _ = try? store.progress(lease, done: result.tiles, total: result.tiles, newTiles: computed)
            logger.info("done", metadata: ["job": "\(job.id)", "output": "\(Shown.name(output))",
                                           "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
        } catch is MemoryBudget.Stopped {
            try? store.requeue(lease, reason: "daemon stopping")
            return
        } catch let lost as LeaseLost {
            logger.warning("\(lost)")
            return
        } catch {
            return fail(job, lease, error)
        }
        settle(job, as: .done)
    }

    /// The progress callback of a job's render: records progress every half second, and stops
    /// the render when the daemon stops, the lease is lost or someone cancels the job.
    private func reporter(_ lease: Lease, _ reported: Reported) -> @Sendable (Int, Int) -> Bool {
        { [self] done, total in
            reported.state.withLock { r in
                guard r.stop == nil else { return }
                if isStopping { r.stop = .daemonStopping; return }
                if isLost(lease) { r.stop = .leaseLost; return }
                guard done == total || Date().timeIntervalSince(r.at) >= 0.5 else { return }
                do {
                    if try store.progress(lease, done: done, total: total, newTiles: done - r.done) { r.stop = .canceled }
                } catch is LeaseLost { r.stop = .leaseLost } catch {}
                r.done = done
                r.at = Date()
            }
            return reported.state.withLock { $0.stop == nil }
        }
    }

    /// Handles a render that ended with `error` because its progress callback stopped it: the
    /// job goes back to the queue (the daemon stops) or is canceled; a lost lease is thrown on.
    /// Returns false for any other error.
    private func stopped(_ job: Job, _ lease: Lease, _ reported: Reported, _ error: any Error) throws -> Bool {
        if error is LeaseLost { throw error }
        switch reported.state.withLock({ $0.stop }) {
        case .daemonStopping?: try store.requeue(lease, reason: "daemon stopping")
        case .leaseLost?: throw LeaseLost(job: job.id)
        case .canceled?:
            try store.markCanceled(lease)
            discardWork(of: job)
        case nil: return false
        }
        return true
    }

    /// The bands of an image more than twice `band_megapixels` (nil for smaller ones): whole
    /// strips of the region path (four tile rows), about `band_megapixels` each. Bands as a
    /// resumed render's strips start where an uninterrupted render's do, so the output is the same.
    private func bands(of source: ImageSource) -> [Range<Int>]? {
        let size = settings.bandMegapixels * 1_000_000
        guard size > 0, source.pixelCount > 2 * size else { return nil }
        let rows = TileGrid(width: source.width, height: source.height).rows
        let perBand = max(4, size / (source.width * TileGrid.outputSize) / 4 * 4)
        var bands = stride(from: 0, to: rows, by: perBand).map { $0..<min($0 + perBand, rows) }
        // A short last band joins the one before: each band decodes the rows above it again.
        if bands.count > 1, bands.last!.count < perBand / 2 { bands[bands.count - 2] = bands[bands.count - 2].lowerBound..<rows; bands.removeLast() }
        return bands
    }

    /// Runs one band of a split job: its tile rows into its work file, which its job's assembly
    /// reads (the file of an earlier attempt made the same way is continued).
    private func render(band rows: Range<Int>, of job: Job, _ lease: Lease, _ source: ImageSource, style: Style, format: ImageFormat, key: String) throws {
        let started = Date(), name = Self.bandFile(of: job)
        let (journal, fd) = try self.journal(name, of: job, lease, key: "\(key) rows \(rows.lowerBound)-\(rows.upperBound)", rows: rows)
        defer { close(fd) }
        let reported = Reported()
        let tiles: Int
        do {
            tiles = try Stylizer(style: style, threads: settings.threads).render(band: rows, of: source, format: format, journal: journal,
                                                                                 progress: reporter(lease, reported))
        } catch {
            if try stopped(job, lease, reported, error) { return }
            throw error
        }
        try store.finish(lease, output: "\(work.path)/\(name)", tiles: tiles)
        _ = try? store.progress(lease, done: tiles, total: tiles, newTiles: tiles - reported.state.withLock { $0.done })
        logger.info("band done", metadata: ["job": "\(job.parentId ?? 0)", "band": "\(job.band)", "rows": "\(rows.lowerBound * TileGrid.outputSize)-\(min(rows.upperBound * TileGrid.outputSize, source.height) - 1)",
                                                "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
    }

    /// The journal a split job's output is assembled from: every band's work file, all of them done.
    private func assembly(of job: Job, _ source: ImageSource) throws -> (journal: StripJournal, descriptors: [Int32]) {
        let bands = try store.bands(of: job.id), rows = TileGrid(width: source.width, height: source.height).rows
        guard bands.count == job.bands, bands.allSatisfy({ $0.status == .done }),
              zip(bands, bands.dropFirst()).allSatisfy({ $0.bandEnd == $1.bandStart }), bands.first?.bandStart == 0, bands.last?.bandEnd == rows else {
            throw DaemonError("job \(job.id): its bands do not cover the image (\(bands.filter { $0.status == .done }.count) of \(job.bands) done)")
        }
        var descriptors: [Int32] = []
        do {
            for band in bands {
                do { descriptors.append(try work.openWorkFile(Self.bandFile(of: band), creating: false)) } catch {
                    throw DaemonError("job \(job.id): the work file of band \(band.band) is missing (\(error)); is the work folder shared by every host?")
                }
            }
        } catch {
            descriptors.forEach { close($0) }
            throw error
        }
        logger.info("job \(job.id): assembling the output from \(bands.count) bands")
        return (StripJournal(bands: zip(descriptors, bands).map { ($0, $1.bandStart) }, tileRows: rows), descriptors)
    }

    /// The strips journal of a long job (nil for small images): the file in the work folder and
    /// what an earlier attempt left in it, if it was made the same way (`key`: model, size, format).
    private func strips(of job: Job, _ lease: Lease, _ source: ImageSource, key: String) throws -> (journal: StripJournal, descriptors: [Int32])? {
        guard source.pixelCount >= Self.journaledPixels else { return nil }
        let (journal, fd) = try self.journal(Self.stripsFile(job.id), of: job, lease, key: key,
                                             rows: 0..<TileGrid(width: source.width, height: source.height).rows)
        return (journal, [fd])
    }

    /// The journal of tile rows `rows` (a whole image's, or a band's) in work file `name`,
    /// continuing what an earlier attempt left there if it was made the same way (`key`), and
    /// its descriptor, which the caller closes.
    private func journal(_ name: String, of job: Job, _ lease: Lease, key: String, rows: Range<Int>) throws -> (StripJournal, Int32) {
        let fd = try work.openWorkFile(name)
        let from = job.resumeKey == key ? job.resumeTileRows : 0
        if from <= rows.lowerBound { ftruncate(fd, 0) } else {
            let message = rows.lowerBound == 0
                ? "from tile row \(from) of \(rows.upperBound): the earlier attempt's first \(from * TileGrid.outputSize) output rows are kept"
                : "from tile row \(from) of tile rows \(rows.lowerBound) to \(rows.upperBound - 1): the earlier attempt's rows are kept"
            do { try store.note(job.id, kind: "resumed", message: message) } catch {
                close(fd)
                throw error
            }
            logger.info("job \(job.id)\(job.parentId.map { " (band \(job.band) of job \($0))" } ?? "") resumed \(message)")
        }
        let journal = StripJournal(descriptor: fd, firstTileRow: rows.lowerBound, resumingFrom: from, interval: settings.checkpointSeconds) { [store] done in
            try? store.checkpoint(lease, tileRows: done, key: key)
        }
        return (journal, fd)
    }

    /// Bad input and a style the models folder does not hold fail at once; anything else (a full
    /// disk, a style file that does not load) is retried with backoff until the attempts run out.
    private func fail(_ job: Job, _ lease: Lease, _ error: any Error) {
        let reason = Shown.name("\(error)")
        // An image error about the source itself (not the output); compared as absolute paths,
        // since a relative root (the default ./var) gives relative sources.
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        let badSource = (error as? ImageError).map { absolute($0.path) == absolute(job.source) } ?? false
        let permanent = badSource || error is SourceReplaced || (try? registry.file(job.style)) == nil
        do {
            if !permanent && job.attempts < settings.attempts {
                let delay = pow(2, Double(job.attempts))
                logger.warning("job \(job.id) will be retried in \(Int(delay)) s: \(reason)")
                try store.retryLater(lease, reason: reason, delay: delay)
                return
            }
            logger.error("job \(job.id) failed: \(reason)")
            try store.fail(lease, reason: reason)
            discardWork(of: job)
            var failed = job
            failed.status = .failed
            failed.error = reason
            settle(failed)
        } catch {
            logger.error("job \(job.id): cannot record the failure: \(error)")
        }
    }

    /// Moves the source of a finished inbox job out of the inbox: to archive/<style>/ when done,
    /// to failed/<style>/ beside <name>.error.txt when failed. Submitted files stay where they
    /// are; a file that is not the job's (another put under its name) is left for its own job.
    /// Each step can be repeated after a crash: the destination is reserved first, the error file
    /// is written (replacing only itself) before the move, the move replaces nothing.
    private func settle(_ job: Job, as status: Job.Status? = nil) {
        if let parent = job.parentId { // a band's source is its job's: settled once the job failed with it
            if let (parent, _) = try? store.job(parent), parent.status == .failed { settle(parent) }
            return
        }
        guard job.origin == .inbox else { return }
        var job = job
        if let status { job.status = status } // the row says so already; this copy was read before
        let queued = job.identity, identified = queued.device != 0 || queued.inode != 0
        do {
            let (from, name, inFailed) = try place(of: job)
            if inFailed && job.status == .failed { // a retry that failed again: its reason is renewed in place
                return try from.writeReplacing(name + ".error.txt", Data((Shown.name(job.error ?? "failed") + "\n").utf8))
            }
            func isTheJobs(_ s: stat?) -> Bool { s.map { !identified || FileIdentity($0).isSameFile(as: queued) } ?? false }
            let deleting = job.status == .done && settings.after == .delete
            func destinationFolder() throws -> Folder { try (job.status == .failed ? failed : archive).subfolder(job.style) }
            guard let here = from.entry(name) else {
                // Moved or deleted before a crash let the database hear of it, or removed by someone.
                if deleting {
                    try store.removedSource(job.id, reason: Self.deletedReason)
                } else if let destination = job.destination, isTheJobs(try destinationFolder().entry((destination as NSString).lastPathComponent)) {
                    try store.moved(job.id, source: destination)
                }
                return
            }
            guard isTheJobs(here) else { return leftForItsOwnJob(job) }
            if deleting { return try delete(name, in: from, of: job, isTheJobs: isTheJobs) }
            let into = try destinationFolder()
            let companion = job.status == .failed ? ".error.txt" : ""
            var again = false
            while true {
                let destination = try store.reserveDestination(job.id, again: again) { "\(into.path)/" + into.freeName(name, taken: $0, companion: companion) }
                let target = (destination as NSString).lastPathComponent
                if job.status == .failed { try into.writeReplacing(target + companion, Data((Shown.name(job.error ?? "failed") + "\n").utf8)) }
                var copied: stat?
                do throws(Folder.MoveError) {
                    copied = try from.move(name, to: into, as: target)
                } catch .taken {
                    // Taken since it was reserved: by this file itself (a hard-link move cut short), or by another.
                    if isTheJobs(into.entry(target)), isTheJobs(from.entry(name)) { from.remove(name) } else {
                        if job.status == .failed { into.remove(target + companion) }
                        again = true
                        continue
                    }
                } catch .gone {
                    return
                } catch let .other(reason) {
                    throw DaemonError("cannot move \(Shown.name(job.source)) to \(into.shown(target)): \(reason)")
                }
                if !isTheJobs(copied ?? into.entry(target)) {
                    // Another file was renamed over the source between the check and the move: it goes back.
                    _ = try? into.move(target, to: from, as: name)
                    if job.status == .failed { into.remove(target + companion) }
                    return leftForItsOwnJob(job)
                }
                // A copy (archive/ on another file system) is a new file: the job follows it there.
                try store.moved(job.id, source: destination, identity: copied.flatMap { _ in into.entry(target) }.map(FileIdentity.init))
                if inFailed { from.remove(name + ".error.txt") } // a retry succeeded: its old reason goes
                return
            }
        } catch {
            logger.error("job \(job.id): cannot move \(Shown.name(job.source)) out of the inbox: \(Shown.name("\(error)"))")
        }
    }

    private func leftForItsOwnJob(_ job: Job) {
        logger.warning("job \(job.id): \(Shown.name(job.source)) is another file now; it is left for its own job")
    }

    private static let deletedReason = "deleted after its job (after: delete)"

    /// Removes a done job's source, checked to be the job's file (`after: delete`): renamed to a
    /// hidden temporary name first (a dead daemon's is removed at the next start), so that only
    /// the queued file goes; another renamed over it in between goes back.
    private func delete(_ name: String, in folder: Folder, of job: Job, isTheJobs: (stat?) -> Bool) throws {
        let doomed = ".\(name).tessera-\(TemporaryWriter.tag)-deleted"
        do { try folder.move(name, to: folder, as: doomed) } catch .gone { return } catch {
            throw DaemonError("cannot delete \(Shown.name(job.source)): \(error)")
        }
        guard isTheJobs(folder.entry(doomed)) else {
            _ = try? folder.move(doomed, to: folder, as: name)
            return leftForItsOwnJob(job)
        }
        folder.remove(doomed)
        folder.sync()
        try store.removedSource(job.id, reason: Self.deletedReason)
        logger.info("job \(job.id): deleted \(Shown.name(job.source)) (after: delete)")
    }

    /// Removes sources whose jobs finished more than `archive_days` ago from archive/<style>/
    /// (only the file each job archived: a file put there under its name is left alone).
    private func pruneArchive() {
        guard let days = settings.archiveDays else { return }
        do {
            for job in try store.archived(under: settings.archive, finishedBefore: Date().timeIntervalSince1970 - days * 86_400) {
                let name = (job.source as NSString).lastPathComponent
                let folder = try? archive.subfolder(job.style, create: false)
                if let folder, let s = folder.entry(name), FileIdentity(s).isSameFile(as: job.identity) {
                    folder.remove(name)
                    logger.info("job \(job.id): removed \(Shown.name(job.source)) from the archive (archive_days: \(days))")
                }
                try store.removedSource(job.id, reason: "removed from the archive \(days) days after its job (archive_days)")
            }
        } catch {
            logger.error("archive retention: \(error)")
        }
    }
}

/// The file under a job's name is not the one that was queued (replaced, or changed in place).
struct SourceReplaced: Error, CustomStringConvertible {
    let path: String
    var description: String { "\(path): replaced or changed after it was queued; the file now there is a job of its own" }
}
