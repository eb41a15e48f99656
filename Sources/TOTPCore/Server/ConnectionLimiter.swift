import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Caps simultaneous connections, in all and per uid, so a local user holding sockets open
/// cannot starve logins. Root (sshd, sudo, login run PAM as root) is always admitted.
package final class ConnectionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var perUID: [uid_t: Int] = [:]
    }

    private let maxTotal: Int
    private let maxPerUID: Int
    private let counts = Mutex(Counts())

    package init(maxTotal: Int, maxPerUID: Int) {
        self.maxTotal = maxTotal
        self.maxPerUID = maxPerUID
    }

    /// Counts the connection in if there is room for it; a true result must be paired with `release`.
    package func admit(_ uid: uid_t) -> Bool {
        counts.withLock { counts in
            let mine = counts.perUID[uid, default: 0]
            guard uid == 0 || (counts.total < maxTotal && mine < maxPerUID) else { return false }
            counts.total += 1
            counts.perUID[uid] = mine + 1
            return true
        }
    }

    package func release(_ uid: uid_t) {
        counts.withLock { counts in
            counts.total -= 1
            let mine = counts.perUID[uid, default: 1] - 1
            counts.perUID[uid] = mine == 0 ? nil : mine
        }
    }
}
