import Testing

@testable import TOTPCore

/// A day of guessing one account's codes through the real server under the default policy,
/// one guess a second and each lockout waited out at once: how many guesses get checked, the
/// figure docs/SECURITY.md sets beside its arithmetic.
@Suite(.serialized) struct BruteForceTests {
    let user = TestDaemon.currentUser
    static let day: Int64 = 86_400

    @Test func aDayOfGuessingGetsTwentyCodesChecked() async throws {
        try await TestDaemon.run { daemon in
            let secret = try await daemon.enroll(user)
            let policy = daemon.configuration.throttle
            let end = daemon.clock.unixTime() + Self.day
            var sent = 0
            var checked = 0
            var hardLocked = false
            while daemon.clock.unixTime() < end, !hardLocked {
                daemon.clock.advance(by: 1)
                let verify = Request.verify(user: user, code: try wrongCode(daemon, secret), context: AuditContext(service: "guess"))
                let answer = try await daemon.client.send(verify)
                sent += 1
                switch answer.result {
                case .rejected: checked += 1
                case .locked:
                    if let retryAfter = answer.u64(.retryAfter) {
                        daemon.clock.advance(by: Int64(retryAfter))
                    } else {
                        hardLocked = true
                    }
                default: Issue.record("unexpected answer \(answer.result)")
                }
            }
            print("brute force, one day, default policy: \(sent) guesses sent, \(checked) checked, then locked until unlock")
            #expect(checked == policy.hardLimit)
            #expect(hardLocked)
            // Locked until an admin unlocks: the right code is refused too.
            let right = Request.verify(user: user, code: try daemon.code(secret), context: AuditContext(service: "guess"))
            #expect(try await daemon.client.send(right).result == .locked)
        }
    }

    private func wrongCode(_ daemon: TestDaemon, _ secret: String) throws -> SubmittedCode {
        let near = try Set((-3...3).map { offset -> String in
            guard case .totp(let code) = try daemon.code(secret, offset: Int64(offset)) else { return "" }
            return code
        })
        return .totp((0...).lazy.map { String(format: "%06d", $0) }.first { !near.contains($0) }!)
    }
}
