// A fixed set of threads that run the parts of one job and wait for the next: no thread is made
// per call. The calling thread takes parts too, so a pool of N threads starts N - 1. Pools live
// as long as the process, one per thread count (`shared`).

import Foundation

/// A fixed set of threads that run the parts of a job in turn; the conv core splits batches, blocks and training shares across it.
public final class WorkerPool: @unchecked Sendable { // all state is behind `condition`
    public let threads: Int
    private let condition = NSCondition()
    private var job: ((Int) -> Void)?
    private var parts = 0, nextPart = 0, unfinished = 0, generation = 0
    /// Serialises callers: one job at a time owns the threads.
    private let entry = NSLock()

    private static let pools = NSLock()
    nonisolated(unsafe) private static var byThreads: [Int: WorkerPool] = [:]

    /// The pool of `threads` threads (at least 1), started on first use.
    public static func shared(threads: Int) -> WorkerPool {
        pools.withLock {
            let n = max(1, threads)
            if let pool = byThreads[n] { return pool }
            let pool = WorkerPool(threads: n)
            byThreads[n] = pool
            return pool
        }
    }

    private init(threads: Int) {
        self.threads = threads
        _ = freedMemoryIsKept
        for _ in 1..<threads {
            let thread = Thread { [self] in work() }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Calls `body(part)` for every part in 0..<parts across the threads; returns when all are done.
    public func run(parts: Int, _ body: (Int) -> Void) {
        guard parts > 1, threads > 1 else {
            for p in 0..<parts { body(p) }
            return
        }
        entry.lock()
        defer { entry.unlock() }
        withoutActuallyEscaping(body) { body in
            condition.lock()
            job = body
            self.parts = parts
            nextPart = 0
            unfinished = parts
            generation += 1
            condition.broadcast()
            condition.unlock()
            drain()
            condition.lock()
            while unfinished > 0 { condition.wait() }
            job = nil
            condition.unlock()
        }
    }

    /// `body(part)` for every part across the threads, the results in part order; the first
    /// error thrown (by part order) is rethrown once all parts are done.
    public func map<T>(parts: Int, _ body: (Int) throws -> T) throws -> [T] {
        var results = [Result<T, any Error>?](repeating: nil, count: parts)
        results.withUnsafeMutableBufferPointer { slots in
            let slots = UncheckedSendable(slots)
            run(parts: parts) { p in slots.value[p] = Result { try body(p) } }
        }
        return try results.map { try $0!.get() }
    }

    /// Takes parts until none is left.
    private func drain() {
        while runOnePart() {
            condition.lock()
            unfinished -= 1
            if unfinished == 0 { condition.broadcast() }
            condition.unlock()
        }
    }

    /// Runs the next part, if any. The copy of the job is released when this returns, before
    /// the part is counted as finished: `run` may only return once no thread holds the job.
    @inline(never)
    private func runOnePart() -> Bool {
        condition.lock()
        // A thread copies the job only while a part is left, so `unfinished` covers every copy.
        guard nextPart < parts, let job else { condition.unlock(); return false }
        let part = nextPart
        nextPart += 1
        condition.unlock()
        job(part)
        return true
    }

    private func work() {
        var seen = 0
        while true {
            condition.lock()
            while generation == seen { condition.wait() }
            seen = generation
            condition.unlock()
            drain()
        }
    }
}

/// Layers allocate their outputs (megabytes for a batch of tiles). By default glibc maps each
/// such block fresh and unmaps it when freed, so every layer of every batch paid page faults and
/// page clearing (a sixth of the run time); blocks up to 512 MB now come from the heap and freed
/// memory stays there for the next batch.
private let freedMemoryIsKept: Bool = {
    _ = glibcMallopt(-3, 512 << 20) // M_MMAP_THRESHOLD
    _ = glibcMallopt(-1, 1 << 30) // M_TRIM_THRESHOLD
    return true
}()

/// malloc.h is not part of Swift's Glibc module.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

/// A value handed to pool threads that write disjoint parts of it.
struct UncheckedSendable<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
