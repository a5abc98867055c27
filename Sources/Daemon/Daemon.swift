// The daemon: a watcher thread that turns stable inbox files into jobs and keeps the heartbeat,
// and worker threads that run jobs: stylize into outbox/<style>/ (never overwriting), mark done,
// then archive the source; on failure record the reason and move the source to failed/<style>/
// beside <name>.error.txt. Runs as a swift-service-lifecycle Service: SIGTERM or SIGINT stops
// taking jobs, puts the running ones back in the queue and exits 0. SIGHUP reloads the styles.
//
// A kill -9 can land anywhere; a restart repairs each window: running jobs are queued again, a
// job's output name is reserved in the database before it is written (so a rerun whose earlier
// attempt got as far as the rename just records it), temporary files of dead writers are removed,
// and finished jobs whose source is still in the inbox are archived or failed then.

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
    let store: JobStore
    let registry: StyleRegistry
    let logger: Logger
    let id: String
    private let notifier = SystemdNotifier()
    private let stopping = Mutex(false)
    private let wake = NSCondition()
    private let styleCache = Mutex<[String: Style]>([:])

    /// A daemon over these settings, opening (and migrating) its database.
    public init(settings: Settings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        store = try JobStore(path: settings.database)
        registry = StyleRegistry(directory: URL(fileURLWithPath: settings.models))
        id = "\(ProcessInfo.processInfo.hostName):\(getpid())"
    }

    /// Runs until graceful shutdown: running jobs go back to the queue and it returns.
    public func run() async throws {
        for folder in [settings.inbox, settings.outbox, settings.archive, settings.failed] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try store.daemonStarted(id: id, pid: getpid(), host: ProcessInfo.processInfo.hostName)
        let recovered = try store.recoverRunning()
        for name in FileMoves.removeStaleTemporaries(under: settings.outbox) { logger.info("removed a dead writer's temporary file \(name)") }
        for job in try store.unsettled(under: settings.inbox) { settle(job) }
        reloadStyles()
        logger.info("tessera daemon started", metadata: ["database": "\(settings.database)", "inbox": "\(settings.inbox)",
                                                       "styles": "\(registry.names().joined(separator: ","))", "requeued": "\(recovered)"])
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler { [self] in reloadStyles() }
        hangup.resume()
        defer { hangup.cancel() }

        let watcher = try InboxWatcher(root: settings.inbox, styles: { [registry] in registry.names() }, stable: settings.stableSeconds)
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
        try? store.daemonStopped(id: id)
        logger.info("stopped")
    }

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
        var lastScan = Date(), lastBeat = Date.distantPast
        while !isStopping {
            for file in watcher.poll() { enqueue(file.path, style: file.style, size: file.size, mtime: file.mtime) }
            if Date().timeIntervalSince(lastScan) >= settings.scanSeconds { watcher.rescan(); lastScan = Date() }
            if Date().timeIntervalSince(lastBeat) >= min(2, (notifier.watchdogInterval ?? 4) / 2) {
                // The watchdog is fed only while the database takes writes.
                do {
                    try store.heartbeat(id: id)
                    notifier.send("WATCHDOG=1")
                } catch { logger.error("heartbeat: \(error)") }
                lastBeat = Date()
            }
            usleep(100_000)
        }
    }

    private func enqueue(_ path: String, style: String, size: Int64, mtime: Double) {
        do {
            guard try !store.isKnown(source: path, size: size, mtime: mtime) else { return }
            let job = try store.enqueue(try NewJob(file: path, style: style, origin: .inbox))
            if job.added {
                logger.info("queued", metadata: ["job": "\(job.id)", "file": "\(path)", "style": "\(style)"])
                wake.broadcast()
            }
        } catch {
            logger.error("cannot queue \(path): \(error)")
        }
    }

    private func workLoop(name: String) {
        while !isStopping {
            let job: Job?
            do { job = try store.claim(worker: name) } catch {
                logger.error("claim: \(error)")
                job = nil
            }
            guard let job else {
                wake.lock()
                _ = wake.wait(until: Date().addingTimeInterval(0.25))
                wake.unlock()
                continue
            }
            process(job)
        }
    }

    private func style(_ name: String) throws -> Style {
        if let cached = styleCache.withLock({ $0[name] }) { return cached }
        let style = try registry.style(name)
        styleCache.withLock { $0[name] = style }
        return style
    }

    /// Why a running job stopped before its end.
    private enum Interruption { case canceled, daemonStopping }

    /// What a running job last reported, shared with its progress callback.
    private final class Reported: Sendable {
        let state = Mutex((done: 0, at: Date.distantPast, stop: Interruption?.none))
    }

    private func process(_ job: Job) {
        let started = Date()
        do {
            let style = try style(job.style)
            let outFolder = "\(settings.outbox)/\(job.style)"
            try FileManager.default.createDirectory(atPath: outFolder, withIntermediateDirectories: true)
            if let earlier = job.output, FileManager.default.fileExists(atPath: earlier) {
                // An earlier attempt renamed its output into place and died before recording it.
                try store.finish(job.id, output: earlier, tiles: job.tilesTotal)
                logger.info("done by an earlier attempt", metadata: ["job": "\(job.id)", "output": "\(earlier)"])
                return settle(job)
            }
            let source = try ImageSource(url: URL(fileURLWithPath: job.source), pixelLimit: settings.maxMegapixels * 1_000_000)
            let format = source.format ?? .png
            var name = job.name
            if source.format == nil { name = (name as NSString).deletingPathExtension + ".png" }
            let output = try store.reserveOutput(job.id) { FileMoves.freeName(name, in: outFolder, taken: $0) }
            let reported = Reported()
            let stylizer = Stylizer(style: style, threads: settings.threads)
            let result: Stylizer.Result
            do {
                result = try stylizer.stylize(source, to: URL(fileURLWithPath: output), options: SaveOptions(format: format)) { [self] done, total in
                    reported.state.withLock { r in
                        guard r.stop == nil else { return }
                        if isStopping { r.stop = .daemonStopping; return }
                        guard done == total || Date().timeIntervalSince(r.at) >= 0.5 else { return }
                        let cancel = (try? store.progress(job.id, done: done, total: total, newTiles: done - r.done)) ?? false
                        r.done = done
                        r.at = Date()
                        if cancel { r.stop = .canceled }
                    }
                    return reported.state.withLock { $0.stop == nil }
                }
            } catch {
                switch reported.state.withLock({ $0.stop }) {
                case .daemonStopping?: try store.requeue(job.id, reason: "daemon stopping"); return
                case .canceled?: try store.markCanceled(job.id); return
                default: throw error
                }
            }
            try store.finish(job.id, output: output, tiles: result.tiles)
            _ = try? store.progress(job.id, done: result.tiles, total: result.tiles, newTiles: result.tiles - reported.state.withLock { $0.done })
            logger.info("done", metadata: ["job": "\(job.id)", "output": "\(output)",
                                           "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
        } catch {
            return fail(job, error)
        }
        settle(job)
    }

    /// Bad input and a style the models folder does not hold fail at once; anything else (a full
    /// disk, a style file that does not load) is retried with backoff until the attempts run out.
    private func fail(_ job: Job, _ error: any Error) {
        let reason = "\(error)"
        // An image error about the source itself (not the output); compared as absolute paths,
        // since a relative root (the default ./var) gives relative sources.
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        let badSource = (error as? ImageError).map { absolute($0.path) == absolute(job.source) } ?? false
        let permanent = badSource || (try? registry.file(job.style)) == nil
        do {
            if !permanent && job.attempts < settings.attempts {
                let delay = pow(2, Double(job.attempts))
                logger.warning("job \(job.id) will be retried in \(Int(delay)) s: \(reason)")
                try store.retryLater(job.id, reason: reason, delay: delay)
                return
            }
            logger.error("job \(job.id) failed: \(reason)")
            try store.fail(job.id, reason: reason)
            var failed = job
            failed.status = .failed
            failed.error = reason
            settle(failed)
        } catch {
            logger.error("job \(job.id): cannot record the failure: \(error)")
        }
    }

    /// Moves the source of a finished inbox job out of the inbox: to archive/<style>/ when done,
    /// to failed/<style>/ beside <name>.error.txt when failed. Submitted files stay where they are.
    private func settle(_ job: Job) {
        guard job.origin == .inbox, FileManager.default.fileExists(atPath: job.source) else { return }
        do {
            if job.status == .failed {
                let moved = try FileMoves.move(job.source, into: "\(settings.failed)/\(job.style)")
                try Data(((job.error ?? "failed") + "\n").utf8).write(to: URL(fileURLWithPath: moved + ".error.txt"))
                try store.moved(job.id, source: moved)
            } else {
                let archived = try FileMoves.move(job.source, into: "\(settings.archive)/\(job.style)")
                try store.moved(job.id, source: archived)
            }
        } catch {
            logger.error("job \(job.id): cannot move \(job.source) out of the inbox: \(error)")
        }
    }
}
