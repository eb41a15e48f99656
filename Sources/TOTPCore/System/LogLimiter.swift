import Logging
import Synchronization

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

    private struct Key: Hashable {
        var uid: uid_t
        var message: String
    }

    private struct Window {
        var start: Int64
        var logged = 0
        var suppressed = 0
        var level: Logger.Level
    }

    private let logger: Logger
    private let windows = Mutex<[Key: Window]>([:])

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
        let key = Key(uid: uid, message: message.description)
        let (passes, ended) = windows.withLock { windows -> (Bool, Window?) in
            var window = windows[key] ?? Window(start: now, level: level)
            var ended: Window?
            if now - window.start >= Self.interval || now < window.start {
                ended = window
                window = Window(start: now, level: level)
            }
            let passes = window.logged < Self.linesPerInterval
            if passes { window.logged += 1 } else { window.suppressed += 1 }
            windows[key] = window
            return (passes, ended)
        }
        if let ended { summarize(key, ended) }
        if passes { logger.log(level: level, message, metadata: metadata) }
    }

    /// Logs the summaries of intervals that are over; the daemon calls it about once a minute.
    package func flush(now: Int64) {
        let ended = windows.withLock { windows -> [(Key, Window)] in
            let ended = windows.filter { now - $0.value.start >= Self.interval || now < $0.value.start }
            for key in ended.keys { windows[key] = nil }
            return Array(ended)
        }
        for (key, window) in ended { summarize(key, window) }
    }

    private func summarize(_ key: Key, _ window: Window) {
        guard window.suppressed > 0 else { return }
        logger.log(
            level: window.level, "more lines like this one were not logged",
            metadata: ["caller_uid": "\(key.uid)", "message": "\(key.message)", "suppressed": "\(window.suppressed)"])
    }
}
