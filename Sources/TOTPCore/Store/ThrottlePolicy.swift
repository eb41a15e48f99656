/// Limits on guessing, per user and across all callers: a rate limit, and a lockout after
/// consecutive failures that doubles with each further failure and ends in a hard stop that
/// only an admin unlock lifts.
package struct ThrottlePolicy: Sendable, Equatable {
    /// At most `attempts` checked codes per user within `interval` seconds.
    package var attempts = 3
    package var interval: Int64 = 30
    /// Consecutive failures that lock the account for `initialDelay` seconds.
    package var lockoutThreshold = 5
    package var initialDelay: Int64 = 30
    package var maxDelay: Int64 = 3600
    /// Consecutive failures after which the account stays locked until an admin unlocks it.
    package var hardLimit = 20

    package init() {}

    /// Seconds the account is locked after its `failures`-th consecutive failure: nil when not
    /// locked, `Int64.max` when only an unlock helps.
    package func lockDuration(afterFailures failures: Int) -> Int64? {
        if failures >= hardLimit { return .max }
        guard failures >= lockoutThreshold else { return nil }
        let doublings = min(failures - lockoutThreshold, 62)
        let delay = initialDelay.multipliedReportingOverflow(by: Int64(1) << doublings)
        return delay.overflow ? maxDelay : min(delay.partialValue, maxDelay)
    }
}
