// The job queue on an in-memory database: claim order, the state machine, output reservation,
// recovery after a crash, and which training checkpoints are kept.

import Foundation
import GRDB
@testable import JobStore
import Testing

@Suite struct JobStoreTests {
    private func job(_ path: String, style: String = "posterize", priority: Int = 0) -> NewJob {
        NewJob(source: path, style: style, identity: FileIdentity(device: 1, inode: 7, size: 10, mtime: 1), digest: "d-\(path)", origin: .inbox, priority: priority)
    }

    @Test func claimsByPriorityThenAgeAndNeverTwice() throws {
        let store = try JobStore(inMemory: ())
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

    @Test func stateTransitions() throws {
        let store = try JobStore(inMemory: ())
        let id = try store.enqueue(job("/in/a.png")).id
        let claimed = try #require(try store.claim(worker: "w"))
        #expect(claimed.status == .running && claimed.attempts == 1 && claimed.worker == "w")
        try store.retryLater(id, reason: "disk full", delay: 3600)
        #expect(try store.claim(worker: "w") == nil) // not before an hour from now
        #expect(try store.job(id)?.0.status == .queued)
        try store.requeue(id, reason: "stopping")
        #expect(try store.job(id)?.0.attempts == 0)
        try store.fail(id, reason: "bad file")
        let failed = try #require(try store.job(id))
        #expect(failed.0.status == .failed && failed.0.error == "bad file" && failed.1.map(\.kind).contains("failed"))
        let retried = try store.request(.retry, job: id)
        #expect(retried.status == .queued)
        let again = try #require(try store.claim(worker: "w"))
        try store.finish(again.id, output: "/out/a.png", tiles: 12)
        let done = try #require(try store.job(id)?.0)
        #expect(done.status == .done && done.output == "/out/a.png" && done.tilesDone == 12 && done.error == nil)
        var halfway = done
        (halfway.tilesDone, halfway.tilesTotal, halfway.startedAt) = (25, 100, 1000)
        #expect(halfway.secondsLeft(at: 1010) == 30)
        halfway.tilesDone = 0
        #expect(halfway.secondsLeft(at: 1010) == nil)
    }

    @Test func outputsAreReservedOnceAndAvoidedByOthers() throws {
        let store = try JobStore(inMemory: ())
        let a = try store.enqueue(job("/in/x.png", style: "edges")).id, b = try store.enqueue(job("/in2/x.png", style: "edges")).id
        let first = try store.reserveOutput(a) { taken in taken.contains("/out/x.png") ? "/out/x-1.png" : "/out/x.png" }
        #expect(first == "/out/x.png")
        #expect(try store.reserveOutput(a) { _ in "/elsewhere.png" } == "/out/x.png") // kept across attempts
        let second = try store.reserveOutput(b) { taken in taken.contains("/out/x.png") ? "/out/x-1.png" : "/out/x.png" }
        #expect(second == "/out/x-1.png")
    }

    @Test func runningJobsAreRecoveredAndFinishedOnesStillInTheInboxFound() throws {
        let store = try JobStore(inMemory: ())
        let a = try store.enqueue(job("/var/inbox/s/a.png")).id, b = try store.enqueue(job("/var/inbox/s/b.png")).id
        _ = try store.claim(worker: "w"); _ = try store.claim(worker: "w")
        try store.finish(b, output: "/out/b.png", tiles: 1)
        #expect(try store.recoverRunning() == 1)
        let recovered = try #require(try store.job(a))
        #expect(recovered.0.status == .queued && recovered.0.attempts == 1 && recovered.1.map(\.kind).contains("recovered"))
        #expect(try store.unsettled(under: "/var/inbox").map(\.id) == [b])
        try store.moved(b, source: "/var/archive/s/b.png")
        #expect(try store.unsettled(under: "/var/inbox").isEmpty)
    }

    @Test func checkpointsKeepEpochEndsTheBestAndTheLatest() throws {
        let store = try JobStore(inMemory: ())
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
        try Schema.migrator.migrate(old, upTo: "v2: checkpoint validation loss and epoch ends")
        try old.write { db in
            try db.execute(sql: "INSERT INTO jobs (source, name, style, size, mtime, digest, origin, created_at) VALUES ('/in/a.png', 'a.png', 'posterize', 10, 1, 'd-/in/a.png', 'inbox', 0)")
        }
        try old.close()
        let store = try JobStore(path: path)
        #expect(try store.jobs().map(\.style) == ["posterize"])
        // Jobs from before v4 have no identity: the file under their name counts as known.
        #expect(try store.isKnown(source: "/in/a.png", identity: FileIdentity(device: 1, inode: 7, size: 10, mtime: 1)))
        #expect(try !store.isKnown(source: "/in/a.png", identity: FileIdentity(device: 1, inode: 7, size: 11, mtime: 1)))
        #expect(try store.enqueue(job("/in/a.png", style: "edges")).added)
    }
}
