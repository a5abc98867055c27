// The job queue on both backends (an in-memory SQLite database, and a database of the tests' own
// PostgreSQL server): claim order, the state machine, leases, output reservation, recovery after
// a crash; on SQLite also which training checkpoints are kept and the migrations.

import Foundation
import GRDB
@testable import JobStore
import TestSupport
import Testing

/// The store a test runs against.
enum Backend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    func make() throws -> any JobStore {
        switch self {
        case .sqlite: return try SQLiteStore(inMemory: ())
        case .postgres: return try PostgresStore(url: try PostgresServer.shared().database())
        }
    }
}

@Suite struct JobStoreTests {
    private func job(_ path: String, style: String = "posterize", priority: Int = 0) -> NewJob {
        NewJob(source: path, style: style, identity: FileIdentity(device: 1, inode: 7, size: 10, mtime: 1), digest: "d-\(path)", origin: .inbox, priority: priority)
    }

    @Test(arguments: Backend.allCases) func claimsByPriorityThenAgeAndNeverTwice(_ backend: Backend) throws {
        let store = try backend.make()
        let a = try store.enqueue(job("/in/a.png")), b = try store.enqueue(job("/in/b.png")), urgent = try store.enqueue(job("/in/c.png", priority: 5))
        #expect(a.added && b.added && urgent.added)
        let duplicate = try store.enqueue(job("/in/a.png"))
        #expect(duplicate.id == a.id && !duplicate.added)
        // The same file for another style is another job (submit used to answer with the first).
        let otherStyle = try store.enqueue(job("/in/a.png", style: "edges"))
        #expect(otherStyle.added && otherStyle.id != a.id)
        #expect(try store.enqueue(job("/in/a.png", style: "edges")).id == otherStyle.id)
        let order = try (0..<5).map { _ in try store.claim(worker: "w")?.id }
        #expect(order == [urgent.id, a.id, b.id, otherStyle.id, nil])
        #expect(try store.jobs(status: .running).count == 4)
    }

    @Test(arguments: Backend.allCases) func aSplitJobWaitsForItsBandsThenIsAssembledOnce(_ backend: Backend) throws {
        let store = try backend.make()
        let id = try store.enqueue(job("/in/huge.png")).id
        let first = try #require(try store.claim(worker: "w"))
        try store.split(first.lease!, bands: [0..<4, 4..<8, 8..<10])
        let parent = try #require(try store.job(id)?.0)
        #expect(parent.status == .queued && parent.bands == 3 && parent.bandsPending == 3 && parent.attempts == 0 && parent.lease == nil)
        // The bands are claimable, the job is not while any band is unfinished.
        let bands = try (0..<3).map { _ in try #require(try store.claim(worker: "w")) }
        #expect(bands.map(\.band) == [1, 2, 3] && bands.map(\.parentId) == [id, id, id] && bands.map(\.bandRows) == [0..<4, 4..<8, 8..<10])
        #expect(try store.claim(worker: "w") == nil)
        #expect(try store.bands(of: id).map(\.id) == bands.map(\.id))
        #expect(throws: JobStoreError.self) { try store.request(.cancel, job: bands[0].id) } // asked of the job, not a band
        try store.finish(bands[2].lease!, output: "/work/b3", tiles: 8)
        try store.finish(bands[0].lease!, output: "/work/b1", tiles: 16)
        #expect(throws: LeaseLost.self) { try store.finish(bands[0].lease!, output: "/work/b1", tiles: 16) } // counted once
        #expect(try store.claim(worker: "w") == nil)
        try store.finish(bands[1].lease!, output: "/work/b2", tiles: 16)
        let assembly = try #require(try store.claim(worker: "w"))
        #expect(assembly.id == id && assembly.bands == 3 && assembly.bandsPending == 0 && assembly.band == 0)
        try store.finish(assembly.lease!, output: "/out/huge.png", tiles: 40)
        // Bands never settle a source: only the job does.
        #expect(try store.unsettled(under: "/in").map(\.id) == [id])
    }

    @Test(arguments: Backend.allCases) func aBandThatFailsFailsItsJobAndStopsTheOthers(_ backend: Backend) throws {
        let store = try backend.make()
        let id = try store.enqueue(job("/in/huge.png")).id
        try store.split(try #require(try store.claim(worker: "w")).lease!, bands: [0..<4, 4..<8, 8..<12])
        let running = try #require(try store.claim(worker: "w")), failing = try #require(try store.claim(worker: "w"))
        try store.fail(failing.lease!, reason: "truncated at row 70")
        let parent = try #require(try store.job(id)?.0)
        #expect(parent.status == .failed && parent.error == "band 2: truncated at row 70")
        let bands = try store.bands(of: id)
        #expect(bands.map(\.status) == [.running, .failed, .canceled] && bands[0].cancelRequested)
        #expect(try store.progress(running.lease!, done: 1, total: 4, newTiles: 1)) // its worker hears it is to stop
        // A retry starts over whole: the bands go, and the next claim splits again.
        _ = try store.request(.retry, job: id)
        #expect(try store.bands(of: id).isEmpty)
        #expect(throws: LeaseLost.self) { try store.finish(running.lease!, output: "/work/b1", tiles: 4) }
        let again = try #require(try store.claim(worker: "w"))
        #expect(again.id == id && again.bands == 0)
    }

    @Test(arguments: Backend.allCases) func stateTransitions(_ backend: Backend) throws {
        let store = try backend.make()
        let id = try store.enqueue(job("/in/a.png")).id
        let claimed = try #require(try store.claim(worker: "w"))
        #expect(claimed.status == .running && claimed.attempts == 1 && claimed.worker == "w" && claimed.lease != nil)
        try store.retryLater(claimed.lease!, reason: "disk full", delay: 3600)
        #expect(try store.claim(worker: "w") == nil) // not before an hour from now
        #expect(try store.job(id)?.0.status == .queued)
        _ = try store.request(.cancel, job: id)
        _ = try store.request(.retry, job: id)
        let second = try #require(try store.claim(worker: "w"))
        try store.requeue(second.lease!, reason: "stopping")
        #expect(try store.job(id)?.0.attempts == 0)
        let third = try #require(try store.claim(worker: "w"))
        try store.fail(third.lease!, reason: "bad file")
        let failed = try #require(try store.job(id))
        #expect(failed.0.status == .failed && failed.0.error == "bad file" && failed.1.map(\.kind).contains("failed"))
        let retried = try store.request(.retry, job: id)
        #expect(retried.status == .queued)
        let again = try #require(try store.claim(worker: "w"))
        try store.finish(again.lease!, output: "/out/a.png", tiles: 12)
        let done = try #require(try store.job(id)?.0)
        #expect(done.status == .done && done.output == "/out/a.png" && done.tilesDone == 12 && done.error == nil)
        #expect(throws: JobStoreError.self) { try store.request(.retry, job: id) }
        var halfway = done
        (halfway.tilesDone, halfway.tilesTotal, halfway.startedAt) = (25, 100, 1000)
        #expect(halfway.secondsLeft(at: 1010) == 30)
        halfway.tilesDone = 0
        #expect(halfway.secondsLeft(at: 1010) == nil)
    }

    @Test(arguments: Backend.allCases) func aRefusedFileIsQueuedFailed(_ backend: Backend) throws {
        let store = try backend.make()
        let queued = try store.enqueue(job("/in/fifo"), failing: "/in/fifo: not a regular file")
        #expect(queued.added)
        let failed = try #require(try store.job(queued.id))
        #expect(failed.0.status == .failed && failed.0.error == "/in/fifo: not a regular file")
        #expect(try store.claim(worker: "w") == nil)
    }

    /// A file another daemon finished and moved away between this daemon's find and its enqueue
    /// is not queued again under its old path.
    @Test(arguments: Backend.allCases) func aFileMovedAwayBeforeItsEnqueueIsNotQueued(_ backend: Backend) throws {
        let store = try backend.make(), folder = Scratch.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let here = folder.appendingPathComponent("here.png").path, gone = folder.appendingPathComponent("gone.png").path
        for path in [here, gone] { FileManager.default.createFile(atPath: path, contents: Data(path.utf8)) }
        func inPlace(_ path: String) throws -> NewJob {
            var job = try NewJob(file: path, style: "s", origin: .inbox)
            let identity = job.identity
            job.stillInPlace = { var s = stat(); return lstat(path, &s) == 0 && FileIdentity(s) == identity }
            return job
        }
        let (stays, moves) = (try inPlace(here), try inPlace(gone))
        #expect(rename(gone, folder.appendingPathComponent("archived.png").path) == 0)
        #expect(try store.enqueue(stays).added)
        #expect(throws: SourceMoved.self) { try store.enqueue(moves) }
        #expect(try store.jobs(status: .queued).map(\.source) == [here])
    }

    @Test(arguments: Backend.allCases) func outputsAreReservedOnceAndAvoidedByOthers(_ backend: Backend) throws {
        let store = try backend.make()
        try store.enqueue(job("/in/x.png", style: "edges")); try store.enqueue(job("/in2/x.png", style: "edges"))
        let a = try #require(try store.claim(worker: "w")?.lease), b = try #require(try store.claim(worker: "w")?.lease)
        let first = try store.reserveOutput(a) { taken in taken.contains("/out/x.png") ? "/out/x-1.png" : "/out/x.png" }
        #expect(first == "/out/x.png")
        #expect(try store.reserveOutput(a) { _ in "/elsewhere.png" } == "/out/x.png") // kept across attempts
        let second = try store.reserveOutput(b) { taken in taken.contains("/out/x.png") ? "/out/x-1.png" : "/out/x.png" }
        #expect(second == "/out/x-1.png")
    }

    @Test(arguments: Backend.allCases) func progressCheckpointsAndCancelRequests(_ backend: Backend) throws {
        let store = try backend.make()
        let id = try store.enqueue(job("/in/a.png")).id
        let lease = try #require(try store.claim(worker: "w")?.lease)
        #expect(try !store.progress(lease, done: 3, total: 10, newTiles: 3))
        try store.checkpoint(lease, tileRows: 2, key: "k")
        _ = try store.request(.cancel, job: id)
        #expect(try store.progress(lease, done: 5, total: 10, newTiles: 2))
        let running = try #require(try store.job(id)?.0)
        #expect(running.tilesDone == 5 && running.resumeTileRows == 2 && running.resumeKey == "k")
        let summary = try store.summary()
        #expect(summary.counts[.running] == 1 && summary.running.map(\.id) == [id] && summary.tilesLastMinute == ["w": 5])
        try store.markCanceled(lease)
        #expect(try store.job(id)?.0.status == .canceled)
    }

    @Test(arguments: Backend.allCases) func aLeaseOnceLostRefusesEveryWrite(_ backend: Backend) throws {
        let store = try backend.make()
        let id = try store.enqueue(job("/in/a.png")).id
        let stale = try #require(try store.claim(worker: "paused")?.lease)
        // The job went to another worker: on SQLite by a restart's recovery, on PostgreSQL by the sweeper.
        switch backend {
        case .sqlite: #expect(try store.recoverRunning() == 1)
        case .postgres:
            #expect(try store.heartbeat(id: "d", leases: [stale], leaseSeconds: 0.2).isEmpty)
            usleep(400_000)
            #expect(try store.sweep(attempts: 3).isEmpty)
        }
        // Queued again after a backoff (2 s after a first attempt).
        var claimed: Job?
        for _ in 0..<50 where claimed == nil {
            claimed = try store.claim(worker: "other")
            if claimed == nil { usleep(100_000) }
        }
        let current = try #require(claimed?.lease)
        #expect(current != stale)
        #expect(try store.heartbeat(id: "d", leases: [stale, current], leaseSeconds: 60) == [stale])
        #expect(throws: LeaseLost.self) { try store.finish(stale, output: "/out/a.png", tiles: 1) }
        #expect(throws: LeaseLost.self) { try store.progress(stale, done: 1, total: 1, newTiles: 1) }
        #expect(throws: LeaseLost.self) { try store.fail(stale, reason: "late") }
        #expect(throws: LeaseLost.self) { try store.reserveOutput(stale) { _ in "/out/late.png" } }
        try store.finish(current, output: "/out/a.png", tiles: 1)
        let done = try #require(try store.job(id)?.0)
        #expect(done.status == .done && done.worker == "other" && done.attempts == 2)
    }

    @Test(arguments: Backend.allCases) func runningJobsAreRecoveredAndFinishedOnesStillInTheInboxFound(_ backend: Backend) throws {
        let store = try backend.make()
        let a = try store.enqueue(job("/var/inbox/s/a.png")).id, b = try store.enqueue(job("/var/inbox/s/b.png")).id
        _ = try store.claim(worker: "w")
        let lease = try #require(try store.claim(worker: "w")?.lease)
        try store.finish(lease, output: "/out/b.png", tiles: 1)
        if backend == .sqlite {
            #expect(try store.recoverRunning() == 1)
            let recovered = try #require(try store.job(a))
            #expect(recovered.0.status == .queued && recovered.0.attempts == 1 && recovered.1.map(\.kind).contains("recovered"))
        } else {
            #expect(try store.recoverRunning() == 0) // other daemons' jobs: the sweeper's, once their leases run out
        }
        #expect(try store.unsettled(under: "/var/inbox").map(\.id) == [b])
        #expect(try store.unsettled(under: "/var/inb").isEmpty)
        #expect(try store.reserveDestination(b) { _ in "/var/archive/s/b.png" } == "/var/archive/s/b.png")
        #expect(try store.reserveDestination(b) { _ in "/elsewhere" } == "/var/archive/s/b.png")
        try store.moved(b, source: "/var/archive/s/b.png")
        #expect(try store.unsettled(under: "/var/inbox").isEmpty)
        #expect(try store.archived(under: "/var/archive", finishedBefore: Date().timeIntervalSince1970 + 60).map(\.id) == [b])
        try store.removedSource(b, reason: "archive_days")
        #expect(try store.archived(under: "/var/archive", finishedBefore: Date().timeIntervalSince1970 + 60).isEmpty)
    }

    @Test(arguments: Backend.allCases) func stylesAndDaemons(_ backend: Backend) throws {
        let store = try backend.make()
        let records = [StyleRecord(name: "b", file: "/m/b", digest: "2", metrics: nil), StyleRecord(name: "a", file: "/m/a", digest: "1", metrics: "{}")]
        try store.register(styles: records)
        #expect(try store.styles() == records.reversed())
        try store.daemonStarted(id: "h:1", pid: 1, host: "h", version: "v")
        try store.daemonStarted(id: "h2:2", pid: 2, host: "h2", version: "v")
        _ = try store.heartbeat(id: "h:1", leases: [], leaseSeconds: 60)
        try store.daemonStopped(id: "h2:2")
        let summary = try store.summary()
        #expect(summary.daemons.map(\.id) == ["h:1"] && summary.daemons[0].version == "v")
        #expect(abs(summary.now - summary.daemons[0].heartbeatAt) < 5)
    }

    @Test func checkpointsKeepEpochEndsTheBestAndTheLatest() throws {
        let store = try SQLiteStore(inMemory: ())
        let run = try store.startTrainingRun(name: "s", settings: "{}").id
        let losses: [(step: Int, val: Double, epochEnd: Bool)] = [(10, 0.5, false), (20, 0.2, false), (30, 0.4, true), (40, 0.6, false), (50, 0.3, false)]
        for c in losses {
            try store.saveCheckpoint(run: run, epoch: c.step / 30, step: c.step, epochEnd: c.epochEnd, loss: c.val, recentLoss: c.val, valLoss: c.val,
                                     weights: Data([UInt8(c.step)]), optimizer: Data())
        }
        #expect(try store.latestCheckpoint(run: run)?.step == 50)
        #expect(try store.bestCheckpoint(run: run)?.step == 20)
        #expect(try store.epochCheckpoints(run: run).map(\.step) == [30])
        #expect(try store.trainingMetrics(run: run).map(\.step) == [10, 20, 30, 40, 50])
    }

    /// A database made before v3 (and v4) keeps its jobs and takes the same file for a second style.
    @Test func migrationKeepsJobsAndAllowsASecondStyle() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let old = try DatabaseQueue(path: path)
        try SQLiteSchema.migrator.migrate(old, upTo: "v2: checkpoint validation loss and epoch ends")
        try old.write { db in
            try db.execute(sql: "INSERT INTO jobs (source, name, style, size, mtime, digest, origin, created_at) VALUES ('/in/a.png', 'a.png', 'posterize', 10, 1, 'd-/in/a.png', 'inbox', 0)")
        }
        try old.close()
        let store = try SQLiteStore(path: path)
        #expect(try store.jobs().map(\.style) == ["posterize"])
        // Jobs from before v4 have no identity: the file under their name counts as known.
        #expect(try store.isKnown(source: "/in/a.png", identity: FileIdentity(device: 1, inode: 7, size: 10, mtime: 1)))
        #expect(try !store.isKnown(source: "/in/a.png", identity: FileIdentity(device: 1, inode: 7, size: 11, mtime: 1)))
        #expect(try store.enqueue(job("/in/a.png", style: "edges")).added)
    }
}
