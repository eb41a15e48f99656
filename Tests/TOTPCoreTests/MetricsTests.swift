import Foundation
import Testing

@testable import TOTPCore

/// METRICS through the production wiring: the counters move with what the daemon answers, and
/// the text is Prometheus's exposition format.
@Suite struct MetricsTests {
    /// The samples of the exposition, by name with labels.
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { samples[String(parts[0])] = value }
        }
        return samples
    }

    @Test func countersFollowWhatTheDaemonAnswered() async throws {
        try await TestDaemon.run(configure: {
            $0.throttle.attempts = 100
            $0.throttle.lockoutThreshold = 3
        }) { daemon in
            let user = TestDaemon.currentUser
            let secret = try await daemon.enroll(user)
            daemon.clock.advance(by: 30)
            #expect(try await daemon.client.send(.verify(user: user, code: daemon.code(secret), context: AuditContext())).result == .ok)
            // Unlike any code of the window: each digit of the current one shifted by 5.
            guard case .totp(let right) = try daemon.code(secret) else { return }
            let wrong = SubmittedCode.totp(String(right.map { Character(String((Int(String($0))! + 5) % 10)) }))
            for _ in 0..<4 {
                _ = try await daemon.client.send(.verify(user: user, code: wrong, context: AuditContext()))
            }
            _ = try await daemon.client.send(.enrollBegin(user: "nobody-here-\(getpid())", proof: nil))

            let response = try await daemon.client.send(.metrics)
            #expect(response.result == .ok)
            let text = try #require(response.string(.metrics))
            // Every sample line follows a TYPE line of its family; names and labels are well-formed.
            var declared: Set<String> = []
            for line in text.split(separator: "\n") {
                if line.hasPrefix("# TYPE ") { declared.insert(String(line.split(separator: " ")[2])) }
                if line.hasPrefix("#") { continue }
                #expect(line.wholeMatch(of: /totpd_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+/) != nil, "\(line)")
                let family = String(line.prefix { $0 != "{" && $0 != " " })
                #expect(declared.contains { family == $0 || family.hasPrefix($0 + "_") }, "\(family)")
            }
            let samples = Self.samples(text)
            #expect(samples["totpd_requests_total{operation=\"verify\",result=\"ok\"}"] == 1)
            #expect(samples["totpd_requests_total{operation=\"verify\",result=\"rejected\"}"] == 3)
            #expect(samples["totpd_requests_total{operation=\"verify\",result=\"locked\"}"] == 1)
            #expect(samples["totpd_requests_total{operation=\"enroll-confirm\",result=\"ok\"}"] == 1)
            #expect(samples["totpd_lockouts_total"] == 1)
            #expect(samples["totpd_verify_duration_seconds_count"] == 5)
            #expect(samples["totpd_verify_duration_seconds_bucket{le=\"+Inf\"}"] == 5)
            #expect(samples["totpd_accounts{state=\"active\"}"] == 1)
            #expect(samples["totpd_accounts_locked"] == 1)
            #expect(samples["totpd_build_info{version=\"\(TOTPVersion.release)\",protocol=\"1\"}"] == 1)
            #expect(samples["totpd_start_time_seconds"] == 1_700_000_000)
        }
    }
}
