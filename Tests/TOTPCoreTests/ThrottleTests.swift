import Crypto
import Synchronization
import Testing

@testable import TOTPCore

/// Rate limit and lockout, walking the injected clock through a sustained guessing attack.
@Suite struct ThrottleTests {
    let directory: TemporaryDirectory
    let store: Store
    let clock = ManualClock(1_700_000_000)
    let source = AuditSource(caller: PeerCredentials(uid: 0, gid: 0, pid: 1))
    let policy = ThrottlePolicy()
    let lockouts = LockoutLog()
    var secret: [UInt8] = []

    init() async throws {
        directory = try TemporaryDirectory()
        let lockouts = lockouts
        store = try Store(path: directory.path + "/totpd.sqlite", keys: StoreKeyring(key: SymmetricKey(size: .bits256)), throttle: policy) {
            _, seconds in lockouts.entries.withLock { $0.append(seconds) }
        }
        guard case .started(let secret, _) = try await store.beginEnrollment(
            user: "alice", parameters: .default, lifetime: 600, authority: .admin, now: clock.unixTime(), source: source)
        else { throw CancellationError() }
        self.secret = secret
        _ = try await store.confirmEnrollment(user: "alice", code: code(), now: clock.unixTime(), source: source)
    }

    func code(offset: Int64 = 0) -> String {
        OneTimePassword.totp(
            secret: secret, step: OneTimePassword.step(at: clock.unixTime() + offset * 30, period: 30), parameters: .default)
    }

    func wrongCode() -> String {
        let near = Set((-3...3).map { code(offset: Int64($0)) })
        return (0...).lazy.map { String(format: "%06d", $0) }.first { !near.contains($0) }!
    }

    func attempt(_ typed: String) async throws -> Store.VerifyOutcome {
        try await store.verify(user: "alice", code: SubmittedCode(typed)!, now: clock.unixTime(), source: source)
    }

    @Test func defaultPolicyLocksWellBeforeNISTsLimit() {
        #expect(policy.attempts == 3 && policy.interval == 30)
        #expect(policy.lockDuration(afterFailures: 4) == nil)
        #expect(policy.lockDuration(afterFailures: 5) == 30)
        #expect(policy.lockDuration(afterFailures: 6) == 60)
        #expect(policy.lockDuration(afterFailures: 11) == 1920)
        #expect(policy.lockDuration(afterFailures: 12) == 3600)
        #expect(policy.lockDuration(afterFailures: 19) == 3600)
        #expect(policy.lockDuration(afterFailures: 20) == .max)
        #expect(policy.hardLimit < 100)
    }

    @Test func rateLimitCountsAttemptsNotJustFailures() async throws {
        clock.advance(by: 30)
        for _ in 0..<3 { #expect(try await attempt(wrongCode()) == .rejected) }
        // The fourth attempt in the interval is not even checked: the right code is refused too.
        #expect(try await attempt(code()) == .locked(retryAfter: 30))
        clock.advance(by: 30)
        #expect(try await attempt(code()) == .accepted)
    }

    @Test func lockoutDoublesAndSuccessResets() async throws {
        for _ in 0..<4 {
            clock.advance(by: 30)
            #expect(try await attempt(wrongCode()) == .rejected)
        }
        clock.advance(by: 30)
        #expect(try await attempt(wrongCode()) == .rejected)  // the 5th: locks for 30 s
        #expect(try await attempt(code()) == .locked(retryAfter: 30))
        let status = try store.status(user: "alice", now: clock.unixTime())
        #expect(status.lockedUntil == clock.unixTime() + 30 && status.failures == 5)
        clock.advance(by: 30)
        #expect(try await attempt(wrongCode()) == .rejected)  // the 6th: locks for 60 s
        clock.advance(by: 59)
        #expect(try await attempt(code()) == .locked(retryAfter: 1))
        clock.advance(by: 1)
        #expect(try await attempt(code()) == .accepted)
        #expect(try store.status(user: "alice", now: clock.unixTime()).failures == 0)
        // Each lockout was reported (for the daemon's log) with its length.
        #expect(lockouts.entries.withLock { $0 } == [30, 60])
    }

    @Test func hardLimitHoldsUntilUnlock() async throws {
        for _ in 0..<policy.hardLimit {
            clock.advance(by: policy.maxDelay)
            #expect(try await attempt(wrongCode()) == .rejected)
        }
        clock.advance(by: 365 * 86_400)
        #expect(try await attempt(code()) == .locked(retryAfter: nil))
        #expect(try await store.unlock(user: "alice", now: clock.unixTime(), source: source))
        #expect(try await attempt(code()) == .accepted)
        let events = try await store.auditLog(user: "alice", since: nil, afterID: 0, limit: 1000).map(\.event)
        #expect(events.filter { $0 == "lockout" }.count == policy.hardLimit - policy.lockoutThreshold + 1)
        #expect(events.contains("unlock"))
    }

    /// The figures docs/SECURITY.md gives: under the default policy a continuous attack gets at
    /// most `hardLimit` codes checked before an admin must act, however long it runs.
    @Test func continuousAttackIsBoundedAsDocumented() async throws {
        var checked = 0
        // A week of one guess every second, skipping instantly over time the store refuses.
        let end = clock.unixTime() + 7 * 86_400
        while clock.unixTime() < end {
            switch try await attempt(wrongCode()) {
            case .rejected, .replayed: checked += 1
            case .locked(let retryAfter?): clock.advance(by: retryAfter)
            case .locked(nil): clock.advance(by: end - clock.unixTime())
            case .accepted, .notEnrolled: Issue.record("unexpected outcome")
            }
            clock.advance(by: 1)
        }
        #expect(checked == policy.hardLimit)
    }
}

/// What the store reported about lockouts, as the daemon's log would show it.
final class LockoutLog: Sendable {
    let entries = Mutex<[Int64?]>([])
}
