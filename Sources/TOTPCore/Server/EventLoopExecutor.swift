import NIOCore

/// Runs a request's task on the event loop of its connection. A request that needs no other
/// thread (a PRECHECK read) then never leaves the loop, and one that waits for the writer hops
/// there and straight back; on the shared pool, each await and the answer's write were a hop
/// more, and on a virtual machine every cross-thread wake-up is expensive.
final class EventLoopExecutor: TaskExecutor {
    private let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}
