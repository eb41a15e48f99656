import Dispatch
import Foundation
import Testing

@testable import TOTPCore

/// The lookup pool's promises, with lookups that block until the test lets them go (a
/// directory that does not answer), so nothing here depends on a real slow directory. A pool that
/// waits where it must not would hang these tests; the time limit turns that into a failure.
@Suite(.timeLimit(.minutes(1))) struct LookupPoolTests {
    struct Stuck: Sendable {
        let gate = DispatchSemaphore(value: 0)
        func wait() -> String {
            gate.wait()
            return "late"
        }
    }

    @Test func rootIsNeverQueuedBehindOthersAndEachUIDHasABound() async throws {
        let pool = LookupPool(rootThreads: 1, sharedThreads: 2, perUIDLimit: 2, timeLimit: .seconds(30))
        let stuck = Stuck()
        // Two uids occupy every shared thread with lookups that do not return.
        let blocked = [
            Task { try await pool.run(for: 1000) { stuck.wait() } }, Task { try await pool.run(for: 1001) { stuck.wait() } },
        ]
        try await Task.sleep(for: .milliseconds(100))
        // Root's lookup has a thread of its own: it answers while every shared thread is stuck.
        #expect(try await pool.run(for: 0) { "root" } == "root")
        // A third lookup of uid 1000 while two are in flight is refused at once, not queued.
        let second = Task { try await pool.run(for: 1000) { stuck.wait() } }
        try await Task.sleep(for: .milliseconds(100))
        await #expect(throws: LookupPool.Refusal.self) { try await pool.run(for: 1000) { "third" } }
        for _ in 0..<3 { stuck.gate.signal() }
        for task in blocked + [second] { #expect(try await task.value == "late") }
        // Slots are free again once the lookups returned.
        #expect(try await pool.run(for: 1000) { "again" } == "again")
    }

    /// The lookup stays stuck until after the answer, so an answer at all is the time limit's.
    /// How late the timer fires depends on the machine's load (a wall-clock bound here failed
    /// under the parallel suites on two cores), so none is asserted.
    @Test func aLookupOverTheTimeLimitFailsItsRequestClosed() async throws {
        let pool = LookupPool(rootThreads: 1, sharedThreads: 1, perUIDLimit: 2, timeLimit: .milliseconds(200))
        let stuck = Stuck()
        let refusal = await #expect(throws: LookupPool.Refusal.self) { try await pool.run(for: 1000) { stuck.wait() } }
        #expect(refusal?.description == "the account database did not answer within 200 ms")
        stuck.gate.signal()
    }
}
