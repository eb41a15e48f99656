import GRDB

/// The guessing limits of one account (`ThrottlePolicy`), shared by every path that checks a
/// code: verification, confirmation of a new enrollment, proofs, resync, recovery codes.
struct ThrottleRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "throttle"

    var user: String
    var windowStart: Int64 = 0
    var windowAttempts = 0
    /// Consecutive failures.
    var failures = 0
    /// `Int64.max`: until an admin unlocks.
    var lockedUntil: Int64?

    enum CodingKeys: String, CodingKey {
        case user, failures
        case windowStart = "window_start"
        case windowAttempts = "window_attempts"
        case lockedUntil = "locked_until"
    }
}
