// The daemon: a watcher thread that turns stable inbox files into jobs and keeps the heartbeat,
// and worker threads that run jobs: stylize into outbox/<style>/ (never overwriting), mark done,
// then archive the source; on failure record the reason and move the source to failed/<style>/
// beside <name>.error.txt. Runs as a swift-service-lifecycle Service: SIGTERM or SIGINT stops
// taking jobs, puts the running ones back in the queue and exits 0.

import Foundation
import Imaging
import JobStore
import Logging
import ServiceLifecycle
import Styles

public final class Daemon: Service, @unchecked Sendable {
    let settings: Settings
    let store: JobStore
    let registry: StyleRegistry
    let logger: Logger
    let id: String
    private let stopping = Locked(false)
    private let wake = NSCondition()
    private var styleCache: [String: Style] = [:]
    private let styleLock = NSLock()

    public init(settings: Settings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        store = try JobStore(path: settings.database)
        registry = StyleRegistry(directory: URL(fileURLWithPath: settings.models))
        id = "\(ProcessInfo.processInfo.hostName):\(getpid())"
    }

    public func run() async throws {
        for folder in [settings.inbox, settings.outbox, settings.archive, settings.failed] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try store.daemonStarted(id: id, pid: getpid(), host: ProcessInfo.processInfo.hostName)
        let recovered = try store.recoverRunning()
        logger.info("tessera daemon started", metadata: ["database": "\(settings.database)", "inbox": "\(settings.inbox)",
                                                       "styles": "\(registry.names().joined(separator: ","))", "requeued": "\(recovered)"])
        let watcher = try InboxWatcher(root: settings.inbox, styles: { [registry] in registry.names() }, stable: settings.stableSeconds)
        let finished = DispatchGroup()
        let watch = Thread { [self] in watchLoop(watcher); finished.leave() }
        finished.enter(); watch.start()
        for n in 0..<settings.workers {
            let worker = Thread { [self] in workLoop(name: "\(id)/\(n)"); finished.leave() }
            finished.enter(); worker.start()
        }
        try? await gracefulShutdown()
        logger.info("stopping: running jobs go back to the queue")
        stopping.withLock { $0 = true }
        wake.broadcast()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in finished.notify(queue: .global()) { c.resume() } }
        try? store.daemonStopped(id: id)
        logger.info("stopped")
    }

    private var isStopping: Bool { stopping.withLock { $0 } }

    private func watchLoop(_ watcher: InboxWatcher) {
        var lastScan = Date(), lastBeat = Date.distantPast
        while !isStopping {
            for file in watcher.poll() { enqueue(file.path, style: file.style, size: file.size, mtime: file.mtime) }
            if Date().timeIntervalSince(lastScan) >= settings.scanSeconds { watcher.rescan(); lastScan = Date() }
            if Date().timeIntervalSince(lastBeat) >= 2 {
                do { try store.heartbeat(id: id) } catch { logger.error("heartbeat: \(error)") }
                lastBeat = Date()
            }
            usleep(100_000)
        }
    }

    private func enqueue(_ path: String, style: String, size: Int64, mtime: Double) {
        do {
            guard try !store.isKnown(source: path, size: size, mtime: mtime) else { return }
            let digest = try FileMoves.digest(path)
            let job = try store.enqueue(NewJob(source: path, style: style, size: size, mtime: mtime, digest: digest, origin: "inbox"))
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
        try styleLock.withLock {
            if let cached = styleCache[name] { return cached }
            let style = try registry.style(name)
            styleCache[name] = style
            return style
        }
    }

    private enum Outcome { case done, canceled, interrupted }

    private func process(_ job: Job) {
        let started = Date()
        do {
            let style = try style(job.style)
            let outFolder = "\(settings.outbox)/\(job.style)"
            try FileManager.default.createDirectory(atPath: outFolder, withIntermediateDirectories: true)
            let source = try ImageSource(url: URL(fileURLWithPath: job.source), pixelLimit: settings.maxMegapixels * 1_000_000)
            let format = source.format ?? .png
            var name = job.name
            if source.format == nil { name = (name as NSString).deletingPathExtension + ".png" }
            let output = FileMoves.freeName(name, in: outFolder)
            let reported = Locked((done: 0, at: Date.distantPast, stop: Outcome?.none))
            let stylizer = Stylizer(style: style, threads: settings.threads)
            let result: Stylizer.Result
            do {
                result = try stylizer.stylize(source, to: URL(fileURLWithPath: output), options: SaveOptions(format: format)) { [self] done, total in
                    reported.withLock { r in
                        guard r.stop == nil else { return }
                        if isStopping { r.stop = .interrupted; return }
                        guard done == total || Date().timeIntervalSince(r.at) >= 0.5 else { return }
                        let cancel = (try? store.progress(job.id, done: done, total: total, newTiles: done - r.done)) ?? false
                        r.done = done
                        r.at = Date()
                        if cancel { r.stop = .canceled }
                    }
                    return reported.withLock { $0.stop == nil }
                }
            } catch {
                switch reported.withLock({ $0.stop }) {
                case .interrupted?: try store.requeue(job.id, reason: "daemon stopping"); return
                case .canceled?: try store.markCanceled(job.id); return
                default: throw error
                }
            }
            try store.finish(job.id, output: output, tiles: result.tiles)
            _ = try? store.progress(job.id, done: result.tiles, total: result.tiles, newTiles: result.tiles - reported.withLock { $0.done })
            logger.info("done", metadata: ["job": "\(job.id)", "output": "\(output)",
                                           "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
            if job.origin == "inbox" {
                let archived = try FileMoves.move(job.source, into: "\(settings.archive)/\(job.style)")
                try store.moved(job.id, source: archived)
            }
        } catch {
            fail(job, error)
        }
    }

    /// Bad input fails at once; anything else (a full disk, a missing style file) is retried with
    /// backoff until the attempts run out.
    private func fail(_ job: Job, _ error: any Error) {
        let reason = "\(error)"
        let permanent = (error as? ImageError).map { $0.description.hasPrefix(job.source) } ?? false
        do {
            if !permanent && job.attempts < settings.attempts {
                let delay = pow(2, Double(job.attempts))
                logger.warning("job \(job.id) will be retried in \(Int(delay)) s: \(reason)")
                try store.retryLater(job.id, reason: reason, delay: delay)
                return
            }
            logger.error("job \(job.id) failed: \(reason)")
            try store.fail(job.id, reason: reason)
            guard job.origin == "inbox", FileManager.default.fileExists(atPath: job.source) else { return }
            let moved = try FileMoves.move(job.source, into: "\(settings.failed)/\(job.style)")
            try Data((reason + "\n").utf8).write(to: URL(fileURLWithPath: moved + ".error.txt"))
            try store.moved(job.id, source: moved)
        } catch {
            logger.error("job \(job.id): cannot record the failure: \(error)")
        }
    }
}
