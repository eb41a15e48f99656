#if canImport(Glibc)
import Glibc
#endif

/// Bounds the audit rows a non-root caller can make the daemon write: per uid, at most
/// `rowsPerInterval` rows per `interval` seconds; rows beyond that are counted, and the count
/// is written as one `suppressed` row once the interval is over. Rows of checked codes are not
/// budgeted (the rate limit bounds them). While the space reserve is released (the disk was
/// full), nothing budgeted is written.
final class AuditBudget: Sendable {
    static let rowsPerInterval = 30
    static let interval: Int64 = 60
    /// The longest text a non-root caller can place in an audit row, per field.
    static let maxCallerTextBytes = 64

    typealias Summary = SuppressionWindows<uid_t>.Suppressed

    private let windows = SuppressionWindows<uid_t>(limit: rowsPerInterval, interval: interval)

    /// Whether a row caused by `caller` may be written now; root's always may.
    func admits(_ caller: PeerCredentials, now: Int64, reserveHeld: Bool) -> Bool {
        caller.isRoot || windows.admit(caller.uid, now: now, allowed: reserveHeld)
    }

    /// The counts to write now: those of intervals that ended, and (when `all`) the open ones.
    func takeSummaries(now: Int64, all: Bool = false) -> [Summary] {
        windows.takeEnded(now: now, all: all)
    }

    /// At most `maxCallerTextBytes` bytes of `text`, cut at a character boundary.
    static func shortened(_ text: String) -> String {
        guard text.utf8.count > maxCallerTextBytes else { return text }
        var result = ""
        var used = 0
        for character in text {
            used += character.utf8.count
            guard used <= maxCallerTextBytes else { break }
            result.append(character)
        }
        return result
    }
}
