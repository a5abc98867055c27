// Synchronous store calls from async code. A PostgreSQL store's call waits for a task of its own;
// made on a thread of the cooperative pool it would hold that thread meanwhile (and on a machine
// with one core, the task it waits for could never run). The CLI and the daemon's start make
// their calls through `onOwnThread`.

import Foundation
import Synchronization

/// Runs `body` on a new thread and returns its result, leaving the caller's thread free.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
