// Where the PostgreSQL store's tasks run: on one of NIO's event-loop threads, not the cooperative
// pool. The store is called synchronously by threads that wait for its task; when those callers
// are themselves pool threads (a synchronous test, a CLI body) they can fill the pool, and a task
// queued there would never start. The event loop is never blocked by anyone, so the task runs.

import NIOCore
import NIOPosix

final class EventLoopExecutor: TaskExecutor {
    static let shared = EventLoopExecutor(loop: NIOSingletons.posixEventLoopGroup.next())
    private let loop: any EventLoop

    private init(loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
