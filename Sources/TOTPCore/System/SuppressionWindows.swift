import Synchronization

/// Per key, fixed windows of `interval` seconds in which the first `limit` events pass and the
/// rest are only counted. The count of each window that suppressed anything is handed out once,
/// when the window is over. The audit budget and the log limiter both rest on it.
final class SuppressionWindows<Key: Hashable & Sendable>: Sendable {
    struct Suppressed: Sendable {
        var key: Key
        var start: Int64
        var count: Int
    }

    private struct Window {
        var start: Int64
        var passed = 0
        var suppressed = 0
    }

    let limit: Int
    let interval: Int64
    private let state = Mutex<(windows: [Key: Window], ended: [Suppressed])>(([:], []))

    init(limit: Int, interval: Int64) {
        self.limit = limit
        self.interval = interval
    }

    /// Whether this event passes; with `allowed` false it is counted as suppressed whatever
    /// the limit.
    func admit(_ key: Key, now: Int64, allowed: Bool = true) -> Bool {
        state.withLock { state in
            var window = state.windows[key] ?? Window(start: now)
            if isOver(window, now: now) {
                if window.suppressed > 0 { state.ended.append(Suppressed(key: key, start: window.start, count: window.suppressed)) }
                window = Window(start: now)
            }
            let passes = allowed && window.passed < limit
            if passes { window.passed += 1 } else { window.suppressed += 1 }
            state.windows[key] = window
            return passes
        }
    }

    /// The counts of windows that are over (with `all`, of the open ones too), each once.
    func takeEnded(now: Int64, all: Bool = false) -> [Suppressed] {
        state.withLock { state in
            for (key, window) in state.windows where all || isOver(window, now: now) {
                if window.suppressed > 0 { state.ended.append(Suppressed(key: key, start: window.start, count: window.suppressed)) }
                state.windows[key] = nil
            }
            defer { state.ended = [] }
            return state.ended
        }
    }

    private func isOver(_ window: Window, now: Int64) -> Bool {
        now - window.start >= interval || now < window.start
    }
}
