// What only a queue that several daemons share must do (PostgreSQL): concurrent claims never hand
// out a job twice, the same file found by every daemon becomes one job, the sweeper returns jobs
// whose leases ran out and fails them after their attempts, one sweeper at a time.

import Foundation
@testable import JobStore
import Synchronization
import TestSupport
import Testing

@Suite struct SharedQueueTests {
    private func job(_ n: Int) -> NewJob {
        NewJob(source: "/shared/inbox/s/\(n).png", style: "s", identity: FileIdentity(device: 9, inode: UInt64(n), size: 10, mtime: 1),
               digest: "d\(n)", origin: .inbox)
    }

    @Test func concurrentDaemonsClaimEachJobOnceAndQueueEachFileOnce() throws {
        let url = try PostgresServer.shared().database()
        let stores = try (0..<3).map { _ in try PostgresStore(url: url) }
        let added = Mutex(0), claimed = Mutex([Int64]())
        // Every daemon finds every file; each file must become one job.
        DispatchQueue.concurrentPerform(iterations: 3) { d in
            for n in 0..<40 where (try? stores[d].enqueue(job(n)).added) == true { added.withLock { $0 += 1 } }
        }
        #expect(added.withLock { $0 } == 40)
        DispatchQueue.concurrentPerform(iterations: 6) { w in
            while let job = try? stores[w % 3].claim(worker: "d\(w % 3)/\(w)") {
                claimed.withLock { $0.append(job.id) }
                try? stores[w % 3].finish(job.lease!, output: "/out/\(job.id).png", tiles: 1)
            }
        }
        let ids = claimed.withLock { $0 }
        #expect(ids.count == 40 && Set(ids).count == 40)
        #expect(try stores[0].summary().counts[.done] == 40)
    }

    @Test func theSweeperRequeuesExpiredLeasesThenFailsThemAfterTheirAttempts() throws {
        let store = try PostgresStore(url: try PostgresServer.shared().database())
        let id = try store.enqueue(job(1)).id
        let live = try store.enqueue(job(2)).id
        let dying = try #require(try store.claim(worker: "dead/0", leaseSeconds: 0.2))
        let renewed = try #require(try store.claim(worker: "alive/0", leaseSeconds: 0.2))
        #expect(dying.id == id && renewed.id == live)
        usleep(100_000)
        #expect(try store.heartbeat(id: "alive", leases: [renewed.lease!], leaseSeconds: 60).isEmpty)
        usleep(300_000)
        #expect(try store.sweep(attempts: 2).isEmpty)
        let (requeued, events) = try #require(try store.job(id))
        #expect(requeued.status == .queued && requeued.worker == nil && events.last?.kind == "recovered")
        #expect(try store.job(live)?.0.status == .running) // its daemon renewed it
        // The second attempt runs out too: with attempts 2 it fails for good, with the reason.
        var second: Job?
        for _ in 0..<50 where second == nil {
            second = try store.claim(worker: "dead/1", leaseSeconds: 0.2)
            if second == nil { usleep(100_000) }
        }
        #expect(second?.id == id && second?.attempts == 2)
        usleep(400_000)
        let failed = try store.sweep(attempts: 2)
        #expect(failed.map(\.id) == [id] && failed[0].status == .failed)
        #expect(try store.job(id)?.0.error?.contains("lease ran out on dead/1") == true)
    }

    @Test func oneSweeperAtATime() throws {
        let url = try PostgresServer.shared().database()
        let a = try PostgresStore(url: url), b = try PostgresStore(url: url)
        for n in 0..<200 { try a.enqueue(job(n)) }
        while try a.claim(worker: "dead/0", leaseSeconds: 0.01) != nil {}
        usleep(100_000)
        // Two sweeps at once: each expired job is recovered once (one event each), whichever swept.
        DispatchQueue.concurrentPerform(iterations: 2) { i in _ = try? (i == 0 ? a : b).sweep(attempts: 3) }
        let recovered = try (1...200).map { try #require(try a.job(Int64($0))).1.filter { $0.kind == "recovered" }.count }
        #expect(recovered.allSatisfy { $0 <= 1 })
        _ = try a.sweep(attempts: 3)
        #expect(try a.summary().counts[.queued] == 200)
    }

    @Test func aBadURLOrAnUnreachableServerIsOneLine() throws {
        #expect(throws: JobStoreError.self) { try PostgresStore(url: "mysql://x/y") }
        let port = try PostgresServer.shared().port
        let error = #expect(throws: (any Error).self) { try PostgresStore(url: "postgres://nobody@127.0.0.1:\(port)/none?sslmode=disable") }
        #expect("\(error!)".contains("none") || "\(error!)".contains("nobody"))
    }
}
