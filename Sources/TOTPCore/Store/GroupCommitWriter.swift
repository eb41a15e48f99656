import GRDB
import Synchronization

/// Runs the store's write transactions in groups (group commit): whatever is waiting when the
/// writer becomes free runs in one transaction, with one commit and one fdatasync, and each
/// waiter is answered only after that commit. Alone, a write waits for nothing; under load,
/// many verifications share one sync, so throughput grows with load instead of collapsing.
///
/// If anything in a group fails, the whole group is rolled back and each write runs again in
/// a transaction of its own, so one write's error never touches another's, and hooks such as
/// `afterNextTransaction` see only transactions that committed.
final class GroupCommitWriter: Sendable {
    /// One waiting write: `run` does its work and keeps the result; `finish` answers the waiter.
    private struct Job: Sendable {
        let run: @Sendable (Database) throws -> Void
        let finish: @Sendable (Result<Void, any Error>) -> Void
    }

    private struct Queue {
        var jobs: [Job] = []
        var scheduled = false
    }

    /// The most writes in one transaction, so one group cannot hold the writer for long.
    static let maxGroup = 256

    private let pool: DatabasePool
    private let queue = Mutex(Queue())

    init(pool: DatabasePool) {
        self.pool = pool
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let result = Mutex<T?>(nil)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            enqueue(
                Job(
                    run: { db in
                        let value = try body(db)
                        result.withLock { $0 = value }
                    },
                    finish: { continuation.resume(with: $0) }))
        }
        return result.withLock { $0! }
    }

    private func enqueue(_ job: Job) {
        let schedule = queue.withLock { queue -> Bool in
            queue.jobs.append(job)
            guard !queue.scheduled else { return false }
            queue.scheduled = true
            return true
        }
        if schedule { scheduleGroup() }
    }

    /// One group per turn on GRDB's writer queue, so other writes (checkpoints, housekeeping)
    /// take their turn between groups.
    private func scheduleGroup() {
        pool.asyncWriteWithoutTransaction { db in
            let group = self.queue.withLock { queue -> [Job] in
                let group = Array(queue.jobs.prefix(Self.maxGroup))
                queue.jobs.removeFirst(group.count)
                return group
            }
            self.commit(group, db)
            let more = self.queue.withLock { queue -> Bool in
                queue.scheduled = !queue.jobs.isEmpty
                return queue.scheduled
            }
            if more { self.scheduleGroup() }
        }
    }

    private func commit(_ group: [Job], _ db: Database) {
        if group.count > 1 {
            do {
                try db.inTransaction(.immediate) {
                    for job in group { try job.run(db) }
                    return .commit
                }
                for job in group { job.finish(.success(())) }
                return
            } catch {
                // Rolled back as a whole: each write runs again alone, below.
            }
        }
        for job in group {
            job.finish(
                Result {
                    try db.inTransaction(.immediate) {
                        try job.run(db)
                        return .commit
                    }
                })
        }
    }
}
