import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Counts what the daemon answered since it started, for `totpctl metrics` in Prometheus's
/// text format. The daemon has no network on purpose, so the figures leave only through its
/// socket, to root and the admin group; node_exporter's textfile collector takes them from there.
package final class DaemonMetrics: Sendable {
    /// Upper bounds, in seconds, of the verification latency histogram's buckets.
    static let latencyBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]

    private struct Counts {
        var answers: [Operation: [ResultCode: UInt64]] = [:]
        var lockouts: UInt64 = 0
        var verifyBuckets = [UInt64](repeating: 0, count: DaemonMetrics.latencyBuckets.count)
        var verifyCount: UInt64 = 0
        var verifySeconds: Double = 0
    }

    /// The figures of the store at the time of a scrape.
    package struct Accounts: Sendable {
        package var active = 0
        package var pending = 0
        package var revoked = 0
        package var locked = 0

        package init() {}
    }

    private let counts = Mutex(Counts())
    private let startTime: Int64

    package init(startTime: Int64) {
        self.startTime = startTime
    }

    func recordAnswer(_ operation: Operation, _ result: ResultCode, elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        counts.withLock { counts in
            counts.answers[operation, default: [:]][result, default: 0] += 1
            guard operation == .verify else { return }
            counts.verifyCount += 1
            counts.verifySeconds += seconds
            if let bucket = Self.latencyBuckets.firstIndex(where: { seconds <= $0 }) { counts.verifyBuckets[bucket] += 1 }
        }
    }

    func recordLockout() {
        counts.withLock { $0.lockouts += 1 }
    }

    /// Whether /proc/self/exe names a file that is gone: the kernel marks it " (deleted)" once the
    /// path is removed or renamed over, as dpkg does on an upgrade.
    static var runsReplacedBinary: Bool {
        var path = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &path, path.count - 1)
        guard length > 0 else { return false }
        return String(decoding: path[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self).hasSuffix(" (deleted)")
    }

    /// The exposition text: counters since start, the verification histogram, and the store's figures.
    package func exposition(accounts: Accounts) -> String {
        let counts = counts.withLock { $0 }
        var text = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            text += "# HELP totpd_\(name) \(help)\n# TYPE totpd_\(name) \(type)\n"
            for sample in samples { text += "totpd_\(name)\(sample.labels) \(sample.value)\n" }
        }
        metric(
            "build_info", "gauge", "The daemon's release and protocol version.",
            [("{version=\"\(TOTPVersion.release)\",protocol=\"\(WireProtocol.version)\"}", "1")])
        metric("start_time_seconds", "gauge", "When the daemon started, in seconds since the epoch.", [("", "\(startTime)")])
        metric(
            "binary_replaced", "gauge", "1 when the file the daemon runs was replaced since it started: an upgrade waits for a restart.",
            [("", Self.runsReplacedBinary ? "1" : "0")])
        var answers: [(String, String)] = []
        for operation in Operation.allCases {
            for result in ResultCode.allCases {
                guard let count = counts.answers[operation]?[result] else { continue }
                answers.append(("{operation=\"\(operation.name)\",result=\"\(result.name)\"}", "\(count)"))
            }
        }
        metric("requests_total", "counter", "Requests answered, by operation and result.", answers)
        metric("lockouts_total", "counter", "Accounts locked out after too many wrong codes.", [("", "\(counts.lockouts)")])
        var cumulative: UInt64 = 0
        var buckets: [(String, String)] = []
        for (bound, count) in zip(Self.latencyBuckets, counts.verifyBuckets) {
            cumulative += count
            buckets.append(("{le=\"\(bound)\"}", "\(cumulative)"))
        }
        buckets.append(("{le=\"+Inf\"}", "\(counts.verifyCount)"))
        text += "# HELP totpd_verify_duration_seconds Time from a verification's request to its answer.\n"
        text += "# TYPE totpd_verify_duration_seconds histogram\n"
        for (labels, value) in buckets { text += "totpd_verify_duration_seconds_bucket\(labels) \(value)\n" }
        text += "totpd_verify_duration_seconds_sum \(counts.verifySeconds)\n"
        text += "totpd_verify_duration_seconds_count \(counts.verifyCount)\n"
        metric(
            "accounts", "gauge", "Accounts with an enrollment, by state.",
            [
                ("{state=\"active\"}", "\(accounts.active)"), ("{state=\"pending\"}", "\(accounts.pending)"),
                ("{state=\"revoked\"}", "\(accounts.revoked)"),
            ])
        metric("accounts_locked", "gauge", "Accounts locked out now.", [("", "\(accounts.locked)")])
        return text
    }
}

extension ResultCode {
    /// The name in PROTOCOL.md, lowercased; a metrics label.
    package var name: String {
        switch self {
        case .ok: "ok"
        case .rejected: "rejected"
        case .notEnrolled: "not_enrolled"
        case .locked: "locked"
        case .denied: "denied"
        case .badRequest: "bad_request"
        case .unsupportedVersion: "unsupported_version"
        case .unknownUser: "unknown_user"
        case .internalError: "internal_error"
        case .exempt: "exempt"
        case .grace: "grace"
        }
    }
}
