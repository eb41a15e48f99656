import Synchronization

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

    struct Window {
        var start: Int64
        var written = 0
        var suppressed = 0
    }

    /// A suppressed count that is due to be written.
    struct Summary: Equatable {
        var uid: uid_t
        var start: Int64
        var count: Int
    }

    private let state = Mutex<(windows: [uid_t: Window], due: [Summary])>(([:], []))

    /// Whether a row caused by `caller` may be written now; root's always may.
    func admits(_ caller: PeerCredentials, now: Int64, reserveHeld: Bool) -> Bool {
        guard !caller.isRoot else { return true }
        return state.withLock { state in
            var window = state.windows[caller.uid] ?? Window(start: now)
            if now - window.start >= Self.interval || now < window.start {
                if window.suppressed > 0 {
                    state.due.append(Summary(uid: caller.uid, start: window.start, count: window.suppressed))
                }
                window = Window(start: now)
            }
            let admitted = reserveHeld && window.written < Self.rowsPerInterval
            if admitted { window.written += 1 } else { window.suppressed += 1 }
            state.windows[caller.uid] = window
            return admitted
        }
    }

    /// The summaries to write now: those of intervals that ended, and (when `all`) the open ones.
    func takeSummaries(now: Int64, all: Bool = false) -> [Summary] {
        state.withLock { state in
            for (uid, window) in state.windows where all || now - window.start >= Self.interval || now < window.start {
                if window.suppressed > 0 {
                    state.due.append(Summary(uid: uid, start: window.start, count: window.suppressed))
                }
                state.windows[uid] = nil
            }
            let due = state.due
            state.due = []
            return due
        }
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
