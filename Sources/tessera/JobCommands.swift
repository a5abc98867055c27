// The job commands: all read (or, for submit/cancel/retry, briefly write) the daemon's database.

import ArgumentParser
import Daemon
import ConvCore
import Settings
import Foundation
import Imaging
import JobStore
import Styles

/// Options every job command shares.
struct StoreOptions: ParsableArguments {
    @Option(help: "A YAML settings file (as for `tessera daemon`).")
    var config: String?

    func settings() async throws -> Settings { try await Settings.load(path: config) }
    /// The job queue for the listings (a SQLite file read-only).
    func reader() async throws -> any JobStore { try await open(reading: true) }
    /// The job queue for `submit`, `cancel` and `retry`.
    func writer() async throws -> any JobStore { try await open(reading: false) }

    private func open(reading: Bool) async throws -> any JobStore {
        let settings = try await settings()
        return try await onOwnThread { try settings.openStore(reading: reading) }
    }
}

let jsonEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.keyEncodingStrategy = .convertToSnakeCase
    e.outputFormatting = [.sortedKeys]
    return e
}()

func printJSON<T: Encodable>(_ value: T) throws {
    print(String(decoding: try jsonEncoder.encode(value), as: UTF8.self))
}

func timestamp(_ t: Double?) -> String {
    guard let t else { return "-" }
    let f = DateFormatter()
    f.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return f.string(from: Date(timeIntervalSince1970: t))
}

func table(_ header: [String], _ rows: [[String]]) -> String {
    let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max()! }
    func line(_ cells: [String]) -> String {
        zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces)
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

/// Exit codes for a job's outcome.
enum JobExitStatus {
    static let failed: Int32 = 3
    static let canceled: Int32 = 4
}

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "submit", abstract: "Queue files where they are for a style.")

    @Argument(help: "Image files.") var files: [String]
    @Option(help: "A style name (or a model file path).") var style: String
    @Option(help: "Higher runs first.") var priority = 0
    @Flag(help: "Show progress and exit with the outcome (0 done, 3 failed, 4 canceled).") var wait = false
    @Flag(help: "Run a file again that is done for this style (its new output gets the next free name).") var force = false
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let settings = try await store.settings()
        _ = try StyleRegistry(directory: URL(fileURLWithPath: settings.models)).style(style)
        let jobs = try await onOwnThread { try settings.openStore() }
        // Every file is read before any is queued: one bad name queues nothing.
        var found: [NewJob] = [], problems: [String] = []
        for file in files {
            do { found.append(try NewJob(file: URL(fileURLWithPath: file).standardizedFileURL.path, style: style, origin: .submit, priority: priority)) }
            catch { problems.append("\(error)") }
        }
        guard problems.isEmpty else {
            problems.forEach { warn($0) }
            throw ExitCode.failure
        }
        let (force, queued) = (force, found)
        let ids = try await onOwnThread { try Self.enqueue(queued, into: jobs, force: force) }
        guard wait else { return }
        let bar = ProgressBar(unit: "tiles")
        while true {
            // A split job's tiles are its bands' until its assembly.
            let (current, bands): ([Job], [Job]) = try await onOwnThread {
                let current = try ids.compactMap { try jobs.job($0)?.0 }
                return (current, try current.filter { $0.bands > 0 && $0.status == .queued }.flatMap { try jobs.bands(of: $0.id) })
            }
            let (done, total) = (current + bands).reduce((0, 0)) { ($0.0 + $1.tilesDone, $0.1 + max($1.tilesTotal, $1.tilesDone)) }
            bar.update(done, of: max(total, 1))
            if current.allSatisfy({ [.done, .failed, .canceled].contains($0.status) }) {
                bar.finish()
                for job in current where job.status != .done { FileHandle.standardError.write(Data("job \(job.id) \(job.status.rawValue): \(job.error ?? "")\n".utf8)) }
                if current.contains(where: { $0.status == .failed }) { throw ExitCode(JobExitStatus.failed) }
                if current.contains(where: { $0.status == .canceled }) { throw ExitCode(JobExitStatus.canceled) }
                for job in current { print("job \(job.id) done: \(job.output ?? "")") }
                return
            }
            try await Task.sleep(for: .milliseconds(300))
        }
    }

    /// Queues the files (or, with `force`, runs done ones again); returns their jobs' ids.
    private static func enqueue(_ found: [NewJob], into jobs: any JobStore, force: Bool) throws -> [Int64] {
        var ids: [Int64] = []
        for new in found {
            let job = try jobs.enqueue(new)
            var note = ""
            if !job.added, let (existing, _) = try jobs.job(job.id) {
                if force && existing.status == .done {
                    _ = try jobs.request(.rerun, job: job.id)
                    note = " (done before; queued again)"
                } else {
                    note = existing.status == .done ? " (already done: \(Shown.name(existing.output ?? "")); --force runs it again)" : " (already queued)"
                }
            }
            print("job \(job.id): \(Shown.name(new.source))\(note)")
            ids.append(job.id)
        }
        return ids
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Daemon liveness, queue counts, current jobs, throughput.",
                                                    discussion: "Exits 3 when no daemon is alive (for monitoring).")
    @Flag(help: "One JSON object.") var json = false
    @OptionGroup var store: StoreOptions

    struct Report: EncodesNulls {
        /// Whether any daemon is alive, and the pid of the one heard from last.
        var daemonAlive: Bool
        var daemonPid: Int?
        var daemons: [Daemon]
        var counts: [String: Int]
        var running: [Running]
        var tilesPerSecond: Double

        struct Daemon: EncodesNulls {
            /// alive (heard from within 15 s or the lease, if shorter), late, or lost (silent past its lease: its jobs go to other daemons).
            var state: String
            var id: String, host: String, pid: Int, version: String?, heartbeatAgeSeconds: Double, jobs: [Int64], tilesPerSecond: Double
            /// The jobs as the table shows them: a band as "12 (band 2 of job 11)".
            var shownJobs: String

            init(state: String, id: String, host: String, pid: Int, version: String?, heartbeatAgeSeconds: Double, jobs: [Job], tilesPerSecond: Double) {
                (self.state, self.id, self.host, self.pid, self.version) = (state, id, host, pid, version)
                (self.heartbeatAgeSeconds, self.jobs, self.tilesPerSecond) = (heartbeatAgeSeconds, jobs.map(\.id), tilesPerSecond)
                shownJobs = jobs.map { "\($0.id)\($0.part)" }.joined(separator: ",")
            }

        }

        struct Running: EncodesNulls {
            var id: Int64, source: String, style: String, worker: String?, tilesDone: Int, tilesTotal: Int, etaSeconds: Double?
            /// A band's number, and the job it is a band of (nil for a job of its own).
            var band: Int?, parent: Int64?
        }
    }

    /// The exit code when no daemon is alive.
    static let notAlive: Int32 = 3

    func run() async throws {
        let settings = try await store.settings()
        let jobs = try await store.reader()
        let summary = try await onOwnThread { try jobs.summary() }
        let now = summary.now
        let running = summary.running.map { job -> Report.Running in
            .init(id: job.id, source: job.source, style: job.style, worker: job.worker, tilesDone: job.tilesDone, tilesTotal: job.tilesTotal,
                  etaSeconds: job.secondsLeft(at: now), band: job.band > 0 ? job.band : nil, parent: job.parentId)
        }
        let daemons = summary.daemons.map { d -> Report.Daemon in
            let age = max(0, now - d.heartbeatAt)
            let state = age >= settings.leaseSeconds ? "lost" : d.isAlive(at: now, within: min(15, settings.leaseSeconds)) ? "alive" : "late"
            return .init(state: state, id: d.id, host: d.host, pid: d.pid, version: d.version, heartbeatAgeSeconds: (age * 10).rounded() / 10,
                         jobs: summary.running.filter { $0.worker?.hasPrefix(d.id + "/") ?? false },
                         tilesPerSecond: Double(summary.tilesLastMinute[d.id] ?? 0) / 60)
        }
        let live = daemons.first { $0.state == "alive" }
        let report = Report(daemonAlive: live != nil, daemonPid: live?.pid, daemons: daemons,
                            counts: Dictionary(uniqueKeysWithValues: Job.Status.allCases.map { ($0.rawValue, summary.counts[$0] ?? 0) }),
                            running: running, tilesPerSecond: Double(summary.tilesLastMinute.values.reduce(0, +)) / 60)
        if json {
            try printJSON(report)
        } else {
            if daemons.count <= 1 {
                print(live.map { "daemon: running (pid \($0.pid) on \($0.host))" } ?? "daemon: not running")
            } else {
                print(table(["DAEMON", "STATE", "VERSION", "HEARTBEAT", "TILES/S", "JOBS"], daemons.map {
                    [$0.id, $0.state, $0.version ?? "-", String(format: "%.0f s ago", $0.heartbeatAgeSeconds), String(format: "%.0f", $0.tilesPerSecond),
                     $0.shownJobs]
                }))
            }
            print("jobs: " + Job.Status.allCases.map { "\(summary.counts[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", "))
            for r in running {
                let percent = r.tilesTotal > 0 ? 100 * r.tilesDone / r.tilesTotal : 0
                let part = r.band.map { " (band \($0) of job \(r.parent ?? 0))" } ?? ""
                print("job \(r.id) [\(r.style)] \(Shown.name(r.source))\(part): \(percent)% (\(r.tilesDone)/\(r.tilesTotal) tiles), ETA \(r.etaSeconds.map(duration) ?? "?")")
            }
            print(String(format: "throughput: %.0f tiles/s over the last minute", report.tilesPerSecond))
        }
        if live == nil { throw ExitCode(Self.notAlive) }
    }
}

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobs", abstract: "List jobs, newest first.")
    @Option(help: "queued, running, done, failed or canceled.") var status: String?
    @Option(help: "Only this style.") var style: String?
    @Option(help: "At most this many.") var limit = 50
    @Flag(help: "A JSON array.") var json = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if let status, Job.Status(rawValue: status) == nil { throw ValidationError("unknown status '\(status)'") }
    }

    func run() async throws {
        let store = try await store.reader()
        let (status, style, limit) = (status.flatMap(Job.Status.init), style, limit)
        let jobs = try await onOwnThread { try store.jobs(status: status, style: style, limit: limit) }
        if json { return try printJSON(jobs) }
        print(table(["ID", "STATUS", "STYLE", "TILES", "CREATED", "FILE"], jobs.map {
            ["\($0.id)", $0.status.rawValue + $0.waiting, $0.style, "\($0.tilesDone)/\($0.tilesTotal)", timestamp($0.createdAt), Shown.name($0.source) + $0.part]
        }))
    }
}

struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "job", abstract: "One job's details and events.")
    @Argument var id: Int64
    @Flag(help: "One JSON object.") var json = false
    @OptionGroup var store: StoreOptions

    struct Detail: Encodable { var job: Job; var events: [JobEvent] }

    func run() async throws {
        let (store, id) = (try await store.reader(), id)
        guard let (job, events) = try await onOwnThread({ try store.job(id) }) else { throw JobStoreError("no job \(id)") }
        if json { return try printJSON(Detail(job: job, events: events)) }
        print("""
            job \(job.id): \(job.status.rawValue)
            source:   \(Shown.name(job.source))
            style:    \(job.style)
            output:   \(job.output ?? "-")
            tiles:    \(job.tilesDone)/\(job.tilesTotal)
            attempts: \(job.attempts)\(job.bands > 0 ? "\nbands:    \(job.bands) (\(job.bandsPending) not done)" : "")\(job.bandRows.map { "\nband:     \(job.band) of job \(job.parentId ?? 0), output rows \($0.lowerBound * 16) to \($0.upperBound * 16 - 1)" } ?? "")
            error:    \(job.error ?? "-")
            created:  \(timestamp(job.createdAt)), started \(timestamp(job.startedAt)), finished \(timestamp(job.finishedAt))
            """)
        print(table(["AT", "EVENT", "MESSAGE"], events.map { [timestamp($0.at), $0.kind, $0.message] }))
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a queued or running job.")
    @Argument var id: Int64
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let (store, id) = (try await store.writer(), id)
        let job = try await onOwnThread { try store.request(.cancel, job: id) }
        print(job.status == .canceled ? "job \(id) canceled" : "job \(id): cancel requested")
    }
}

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retry", abstract: "Queue a failed or canceled job again (a done one with --force).")
    @Argument var id: Int64
    @Flag(help: "Also run a done job again (a submitted file; its new output gets the next free name).") var force = false
    @OptionGroup var store: StoreOptions
    func run() async throws {
        let (store, id, request) = (try await store.writer(), id, force ? JobRequest.rerun : .retry)
        _ = try await onOwnThread { try store.request(request, job: id) }
        print("job \(id) queued")
    }
}

struct StylesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "styles", abstract: "The styles the models folder holds.")
    @Flag(help: "A JSON array.") var json = false
    @OptionGroup var store: StoreOptions

    struct Entry: EncodesNulls {
        var name: String, file: String, input: String, output: String, params: Int
        /// The long side the network runs at; nil: full size.
        var workingSize: Int?
        /// Figures on held-out photos, when `tessera eval --record` stored them.
        var heldOut: HeldOutFigures?
        var error: String?

    }

    func run() async throws {
        let registry = StyleRegistry(directory: URL(fileURLWithPath: try await store.settings().models))
        let entries = registry.names().map { name -> Entry in
            let file = registry.directory.appendingPathComponent("\(name).safetensors").path
            do {
                let style = try registry.style(name)
                return Entry(name: name, file: file, input: style.colour.input.rawValue, output: style.colour.output.rawValue,
                             params: style.model.summary.totalParams, workingSize: style.workingSize, heldOut: style.heldOut, error: nil)
            } catch { return Entry(name: name, file: file, input: "-", output: "-", params: 0, workingSize: nil, heldOut: nil, error: "\(error)") }
        }
        if json { return try printJSON(entries) }
        func heldOut(_ f: HeldOutFigures?) -> String {
            f.map { String(format: "%.2f dB (%@ %.2f dB, %d photos)", $0.mean.psnr, $0.baseline, $0.mean.baselinePsnr, $0.photos) } ?? "-"
        }
        print(table(["STYLE", "INPUT", "OUTPUT", "WORKS AT", "PARAMS", "HELD-OUT PSNR", "FILE"],
                    entries.map { [$0.name, $0.input, $0.output, $0.workingSize.map { "\($0) px" } ?? "full size", "\($0.params)",
                                   heldOut($0.heldOut), $0.error ?? $0.file] }))
    }
}

extension Job {
    /// " (band 2 of job 11)" for a band, "" for a job of its own.
    var part: String { parentId.map { " (band \(band) of job \($0))" } ?? "" }
    /// " (3/8 bands left)" for a split job waiting for its bands.
    var waiting: String { bandsPending > 0 && status == .queued ? " (\(bandsPending)/\(bands) bands left)" : "" }
}
