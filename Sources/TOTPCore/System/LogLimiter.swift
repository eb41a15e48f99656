import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Keeps one uid's flood from drowning the journal (and, through journald's rate limit, the
/// lines that matter): per uid and message, the first `linesPerInterval` lines of an interval
/// are logged, the rest counted and summarized in one line ("N more ... from uid U") when the
/// interval is over. Root's lines (the login stack's) always pass.
package final class LogLimiter: Sendable {
    static let linesPerInterval = 20
    static let interval: Int64 = 60

    private struct Key: Hashable, Sendable {
        var uid: uid_t
        var message: String
        var level: Logger.Level
    }

    private let logger: Logger
    private let windows = SuppressionWindows<Key>(limit: linesPerInterval, interval: interval)

    package init(logger: Logger) {
        self.logger = logger
    }

    package func log(
        _ level: Logger.Level, _ message: Logger.Message, uid: uid_t, metadata: Logger.Metadata = [:], now: Int64
    ) {
        guard uid != 0 else {
            logger.log(level: level, message, metadata: metadata)
            return
        }
        // A summary due from an earlier interval goes out before this line.
        flush(now: now)
        if windows.admit(Key(uid: uid, message: message.description, level: level), now: now) {
            logger.log(level: level, message, metadata: metadata)
        }
    }

    /// Logs the summaries of intervals that are over.
    package func flush(now: Int64) {
        for ended in windows.takeEnded(now: now) {
            logger.log(
                level: ended.key.level, "more lines like this one were not logged",
                metadata: [
                    "caller_uid": "\(ended.key.uid)", "message": "\(ended.key.message)", "suppressed": "\(ended.count)",
                ])
        }
    }
}
