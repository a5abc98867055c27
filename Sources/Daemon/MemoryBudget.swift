// The memory all of the daemon's jobs may hold at once. Each job states its need from the image's
// header before decoding anything (Imaging's MemoryNeed); a worker whose job does not fit beside
// the running ones waits until they give memory back, and a job that could never fit fails with
// the reason. The daemon itself (libraries, models, threads' buffers) is counted once, up front.

import Foundation
import Imaging

/// Memory the daemon's jobs share: taken before a job decodes, given back when it ends.
final class MemoryBudget: @unchecked Sendable { // state under `changed`'s lock
    /// What the daemon holds idle, with its styles loaded (about 75 MB measured, see MemoryNeed).
    static let daemonItself = 128 << 20
    /// The configured budget, for messages.
    let configured: Int
    private let available: Int
    private let changed = NSCondition()
    private var taken = 0

    init(megabytes: Int) {
        configured = megabytes << 20
        available = max(0, configured - Self.daemonItself)
    }

    /// Takes `bytes` for the job on `path`, waiting while other jobs hold too much (`waiting` hears
    /// once what they hold and what there is; `stop` is asked twice a second). Throws an
    /// ImageError about `path` if the need is over the whole budget, and `Stopped` when `stop` says so.
    func take(_ bytes: Int, for path: String, waiting: (_ taken: Int, _ available: Int) -> Void, stop: () -> Bool) throws {
        guard bytes <= available else {
            throw ImageError(path, "needs about \(megabytes(bytes)) MB of memory to stylize, more than the daemon's budget of \(megabytes(configured)) MB leaves (setting memory_budget)")
        }
        changed.lock()
        defer { changed.unlock() }
        var told = false
        while taken + bytes > available {
            if stop() { throw Stopped() }
            if !told { told = true; waiting(taken, available) }
            _ = changed.wait(until: Date().addingTimeInterval(0.5))
        }
        taken += bytes
    }

    func give(_ bytes: Int) {
        changed.lock()
        taken -= bytes
        changed.broadcast()
        changed.unlock()
    }

    struct Stopped: Error {}
}

func megabytes(_ bytes: Int) -> Int { (bytes + (1 << 20) - 1) >> 20 }
