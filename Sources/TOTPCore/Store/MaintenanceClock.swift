import Synchronization

/// Decides when the store's housekeeping (retention, lapsed enrollments, audit summaries, the
/// space reserve) is due: at most once a minute, by the daemon's clock, so tests that move an
/// injected clock see it happen without waiting.
final class MaintenanceClock: Sendable {
    static let interval: Int64 = 60
    private let last = Mutex<Int64?>(nil)
    /// A checkpoint after a removal did not complete; the next housekeeping tries again.
    let checkpointOwed = Atomic<Bool>(false)

    /// True, and the time recorded, when housekeeping is due at `now`.
    func claim(now: Int64) -> Bool {
        last.withLock { last in
            if let previous = last, now >= previous, now - previous < Self.interval { return false }
            last = now
            return true
        }
    }
}
