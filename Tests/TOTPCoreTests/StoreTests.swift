import Crypto
import Foundation
import GRDB
import Testing

@testable import TOTPCore

@Suite struct StoreTests {
    let directory: TemporaryDirectory
    let store: Store
    let clock = ManualClock(1_700_000_000)
    let source = AuditSource(caller: PeerCredentials(uid: 0, gid: 0, pid: 1), context: AuditContext(service: "sudo"))

    init() throws {
        directory = try TemporaryDirectory()
        // Generous limits here; the throttling tests make their own store.
        var throttle = ThrottlePolicy()
        throttle.attempts = 20
        store = try Store(path: directory.path + "/totpd.sqlite", keys: StoreKeyring(key: SymmetricKey(size: .bits256)), throttle: throttle)
    }

    func code(_ secret: [UInt8], offset: Int64 = 0) -> String {
        let step = OneTimePassword.step(at: clock.unixTime() + offset * 30, period: 30)
        return OneTimePassword.totp(secret: secret, step: step, parameters: .default)
    }

    func begin(_ user: String, authority: Store.EnrollmentAuthority = .admin, in store: Store? = nil) async throws -> Store.BeginOutcome {
        try await (store ?? self.store).beginEnrollment(
            user: user, parameters: .default, lifetime: 600, authority: authority, now: clock.unixTime(), source: source)
    }

    /// Enrolls and confirms; returns the secret and the recovery codes.
    func enroll(_ user: String, in store: Store? = nil) async throws -> (secret: [UInt8], recoveryCodes: [String]) {
        guard case .started(let secret, _) = try await begin(user, in: store) else { throw CancellationError() }
        let confirmed = try await (store ?? self.store).confirmEnrollment(
            user: user, code: code(secret), now: clock.unixTime(), source: source)
        guard case .activated(let codes) = confirmed else { throw CancellationError() }
        return (secret, codes)
    }

    func verify(_ user: String, _ typed: String, in store: Store? = nil) async throws -> Store.VerifyOutcome {
        try await (store ?? self.store).verify(user: user, code: SubmittedCode(typed)!, now: clock.unixTime(), source: source)
    }

    /// A page of at most `count` accounts.
    func list(after afterUser: String?, now: Int64, count: Int) async throws -> [EnrollmentStatus] {
        try await store.list(afterUser: afterUser, now: now, budget: count) { ($0, 1) }
    }

    func wrongCode(_ secret: [UInt8]) -> String {
        let near = Set((-3...3).map { code(secret, offset: Int64($0)) })
        return (0...).lazy.map { String(format: "%06d", $0) }.first { !near.contains($0) }!
    }

    @Test func writerSyncsEveryCommit() throws {
        #expect(try store.writerSynchronousMode() == 2)
    }

    @Test func enrollConfirmVerifyAndReplay() async throws {
        #expect(try store.status(user: "alice", now: clock.unixTime()).state == .none)
        let (secret, codes) = try await enroll("alice")
        #expect(codes.count == 10 && Set(codes).count == 10)
        #expect(try store.status(user: "alice", now: clock.unixTime()).state == .active)
        // The confirming code's step is used up.
        #expect(try await verify("alice", code(secret)) == .replayed)
        clock.advance(by: 30)
        #expect(try await verify("alice", code(secret)) == .accepted)
        #expect(try await verify("alice", code(secret)) == .replayed)
        clock.advance(by: 30)
        #expect(try await verify("alice", wrongCode(secret)) == .rejected)
        // The replay after the success and the wrong code both count.
        #expect(try store.status(user: "alice", now: clock.unixTime()).failures == 2)
        #expect(try await verify("alice", code(secret)) == .accepted)
        #expect(try store.status(user: "alice", now: clock.unixTime()).failures == 0)
    }

    @Test func codesFromTheWindowEdgesOnly() async throws {
        let (secret, _) = try await enroll("alice")
        clock.advance(by: 300)
        #expect(try await verify("alice", code(secret, offset: 2)) == .rejected)
        #expect(try await verify("alice", code(secret, offset: -2)) == .rejected)
        #expect(try await verify("alice", code(secret, offset: -1)) == .accepted)
        // The window now centres on the step the app showed (-1), so +1 is out of reach...
        #expect(try await verify("alice", code(secret, offset: 1)) == .rejected)
        // ...while the current step is in it, and moves the centre back.
        #expect(try await verify("alice", code(secret)) == .accepted)
        #expect(try await verify("alice", code(secret, offset: 1)) == .accepted)
        // Steps only move forward: the current step is now behind the last accepted one.
        #expect(try await verify("alice", code(secret)) == .replayed)
    }

    @Test func oneCodeSubmittedConcurrentlySucceedsOnce() async throws {
        let (secret, _) = try await enroll("alice")
        clock.advance(by: 30)
        let current = SubmittedCode(code(secret))!
        let (store, source, now) = (store, source, clock.unixTime())
        let outcomes = try await withThrowingTaskGroup(of: Store.VerifyOutcome.self) { group in
            for _ in 0..<20 {
                group.addTask { try await store.verify(user: "alice", code: current, now: now, source: source) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .accepted }.count == 1)
        // The others are replays, counted as failures until the lockout refuses the rest.
        #expect(outcomes.allSatisfy { $0 == .accepted || $0 == .replayed || $0 == .locked(retryAfter: 30) })
    }

    @Test func lateConfirmationDoesNotShiftTheWindow() async throws {
        guard case .started(let secret, _) = try await begin("alice") else {
            Issue.record("enrollment did not start")
            return
        }
        // The confirming code was typed late: it belongs to the previous step.
        clock.advance(by: 30)
        let confirmed = try await store.confirmEnrollment(
            user: "alice", code: code(secret, offset: -1), now: clock.unixTime(), source: source)
        guard case .activated = confirmed else {
            Issue.record("late confirmation refused")
            return
        }
        // A phone one step ahead is still inside the window around the real time.
        #expect(try await verify("alice", code(secret, offset: 1)) == .accepted)
    }

    @Test func pendingEnrollmentLapses() async throws {
        guard case .started(let secret, let expiresAt) = try await begin("bob") else {
            Issue.record("enrollment did not start")
            return
        }
        #expect(expiresAt == clock.unixTime() + 600)
        #expect(try store.status(user: "bob", now: clock.unixTime()).state == .pending)
        clock.advance(by: 601)
        #expect(try store.status(user: "bob", now: clock.unixTime()).state == .none)
        #expect(try await store.confirmEnrollment(user: "bob", code: code(secret), now: clock.unixTime(), source: source) == .notPending)
        #expect(try await verify("bob", code(secret)) == .notEnrolled)
    }

    @Test func replacingAnActiveEnrollmentNeedsProofUnlessAdmin() async throws {
        let (old, recovery) = try await enroll("alice")
        #expect(try await begin("alice", authority: .owner(proof: nil)) == .proofRequired)
        clock.advance(by: 30)
        #expect(try await begin("alice", authority: .owner(proof: SubmittedCode(wrongCode(old)))) == .proofRefused(.rejected))
        // A recovery code is proof too, and is used up by it.
        guard case .started = try await begin("alice", authority: .owner(proof: SubmittedCode(recovery[0]))) else {
            Issue.record("recovery code was not accepted as proof")
            return
        }
        #expect(try await verify("alice", recovery[0]) == .rejected)
        guard case .started(let new, _) = try await begin("alice", authority: .owner(proof: SubmittedCode(code(old)))) else {
            Issue.record("current code was not accepted as proof")
            return
        }
        // The old secret stays in force until the new one is confirmed.
        clock.advance(by: 30)
        #expect(try await verify("alice", code(old)) == .accepted)
        guard case .activated = try await store.confirmEnrollment(user: "alice", code: code(new), now: clock.unixTime(), source: source) else {
            Issue.record("new enrollment not confirmed")
            return
        }
        clock.advance(by: 30)
        #expect(try await verify("alice", code(old)) == .rejected)
        #expect(try await verify("alice", code(new)) == .accepted)
    }

    @Test func aLoginStartsOnlyAFirstEnrollment() async throws {
        guard case .started(let first, _) = try await begin("carol", authority: .login) else {
            Issue.record("a login could not start a first enrollment")
            return
        }
        // Until confirmed, a new login replaces the pending secret; once active, it cannot.
        guard case .started(let second, _) = try await begin("carol", authority: .login), second != first else {
            Issue.record("a second login did not get a fresh secret")
            return
        }
        guard case .activated = try await store.confirmEnrollment(user: "carol", code: code(second), now: clock.unixTime(), source: source) else {
            Issue.record("the login enrollment was not confirmed")
            return
        }
        #expect(try await begin("carol", authority: .login) == .alreadyEnrolled)
        #expect(try store.status(user: "carol", now: clock.unixTime()).state == .active)
        // After a revoke neither a login nor the user may set up again; after a reset both may.
        #expect(try await store.remove(.revoke, user: "carol", now: clock.unixTime(), source: source))
        #expect(try await begin("carol", authority: .login) == .revokedUntilReset)
        #expect(try await begin("carol", authority: .owner(proof: nil)) == .revokedUntilReset)
        #expect(try await store.remove(.reset, user: "carol", now: clock.unixTime(), source: source))
        #expect(try store.status(user: "carol", now: clock.unixTime()).state == .none)
        guard case .started = try await begin("carol", authority: .login) else {
            Issue.record("a reset user could not enroll again at login")
            return
        }
    }

    @Test func recoveryCodesWorkOnceEachInAnySpelling() async throws {
        let (secret, codes) = try await enroll("alice")
        #expect(try await verify("alice", codes[0]) == .accepted)
        #expect(try await verify("alice", codes[0]) == .rejected)
        #expect(try await verify("alice", codes[1].uppercased()) == .accepted)
        #expect(try await verify("alice", codes[2].replacingOccurrences(of: "-", with: "")) == .accepted)
        #expect(try store.status(user: "alice", now: clock.unixTime()).recoveryCodesLeft == 7)
        // Regenerating needs a current code and invalidates the old set.
        clock.advance(by: 30)
        guard case .regenerated(let fresh) = try await store.regenerateRecoveryCodes(user: "alice", code: code(secret), now: clock.unixTime(), source: source) else {
            Issue.record("regeneration refused")
            return
        }
        #expect(try await verify("alice", codes[3]) == .rejected)
        #expect(try await verify("alice", fresh[0]) == .accepted)
        #expect(try store.status(user: "alice", now: clock.unixTime()).recoveryCodesLeft == 9)
    }

    @Test func recoveryCodesAreStoredHashed() async throws {
        let (_, codes) = try await enroll("alice")
        let database = try DatabaseQueue(path: directory.path + "/totpd.sqlite")
        let dump = try await database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM recovery_code").description }
        for code in codes {
            #expect(!dump.contains(code) && !dump.contains(RecoveryCode.normalize(code)!))
        }
    }

    @Test func driftIsLearnedAndResyncHandlesLargeSkew() async throws {
        let (secret, _) = try await enroll("alice")
        // The phone runs one step ahead: accepted at the window's edge, then the window follows it.
        clock.advance(by: 60)
        #expect(try await verify("alice", code(secret, offset: 1)) == .accepted)
        clock.advance(by: 30)
        #expect(try await verify("alice", code(secret, offset: 2)) == .accepted)
        // An hour ahead is far outside the window; two consecutive codes resynchronise.
        clock.advance(by: 30)
        #expect(try await verify("alice", code(secret, offset: 120)) == .rejected)
        let outcome = try await store.resync(
            user: "alice", code: code(secret, offset: 121), nextCode: code(secret, offset: 122), now: clock.unixTime(),
            source: source)
        #expect(outcome == .accepted)
        clock.advance(by: 30)
        #expect(try await verify("alice", code(secret, offset: 122)) == .accepted)
        // The same pair again is a replay.
        let again = try await store.resync(
            user: "alice", code: code(secret, offset: 120), nextCode: code(secret, offset: 121), now: clock.unixTime(),
            source: source)
        #expect(again == .replayed)
    }

    /// An enrollment only started is revoked too: the account cannot start another by itself.
    @Test func revokingAPendingEnrollmentLeavesTheAccountRevoked() async throws {
        guard case .started = try await begin("dora", authority: .owner(proof: nil)) else { throw CancellationError() }
        #expect(try await store.remove(.revoke, user: "dora", now: clock.unixTime(), source: source))
        #expect(try store.status(user: "dora", now: clock.unixTime()).state == .revoked)
        #expect(try await begin("dora", authority: .owner(proof: nil)) == .revokedUntilReset)
        #expect(try await begin("dora", authority: .login) == .revokedUntilReset)
        // An account that never enrolled is revoked too (its session may be the one to distrust);
        // a name the directory does not know leaves nothing behind.
        #expect(try await store.remove(.revoke, user: "erin", now: clock.unixTime(), source: source))
        #expect(try await begin("erin", authority: .owner(proof: nil)) == .revokedUntilReset)
        #expect(
            try await store.remove(.revoke, user: "nobody", existingAccount: false, now: clock.unixTime(), source: source) == false)
        #expect(try store.status(user: "nobody", now: clock.unixTime()).state == .none)
    }

    @Test func revokeRemovesTheSecretAndRecoveryCodes() async throws {
        let (secret, codes) = try await enroll("alice")
        #expect(try await store.remove(.revoke, user: "alice", now: clock.unixTime(), source: source))
        #expect(try await store.remove(.revoke, user: "alice", now: clock.unixTime(), source: source) == false)
        clock.advance(by: 30)
        #expect(try await verify("alice", code(secret)) == .notEnrolled)
        #expect(try await verify("alice", codes[0]) == .notEnrolled)
        #expect(try store.status(user: "alice", now: clock.unixTime()).state == .revoked)
        #expect(try await list(after: nil, now: clock.unixTime(), count: 10).map(\.state) == [.revoked])
    }

    /// Pages of `list` show every account `status` shows as enrolled, exactly as it shows it,
    /// once each, in byte order of name, whatever the page size.
    @Test func listPagesShowWhatStatusShows() async throws {
        _ = try await enroll("alice")
        let (bobSecret, bobCodes) = try await enroll("bob")
        #expect(try await verify("bob", bobCodes[0]) == .accepted)
        for _ in 0..<2 { #expect(try await verify("bob", wrongCode(bobSecret)) == .rejected) }
        guard case .started = try await begin("bob") else { throw CancellationError() }  // replacing it: still active
        let (ginaSecret, _) = try await enroll("gina")
        for _ in 0..<5 { _ = try await verify("gina", wrongCode(ginaSecret)) }
        guard case .started = try await begin("carol") else { throw CancellationError() }
        _ = try await enroll("erin")
        #expect(try await store.remove(.revoke, user: "erin", now: clock.unixTime(), source: source))
        _ = try await enroll("frank")
        #expect(try await store.remove(.reset, user: "frank", now: clock.unixTime(), source: source))
        // Two spellings of one name that Swift's String compares as equal: both are accounts.
        _ = try await enroll("e\u{301}mile")
        _ = try await enroll("\u{E9}mile")
        _ = try await enroll("Zed")
        // Started last, since starting an enrollment purges lapsed ones; lapsed by the time of listing.
        guard case .started = try await store.beginEnrollment(
            user: "dave", parameters: .default, lifetime: 10, authority: .admin, now: clock.unixTime(), source: source)
        else { throw CancellationError() }
        clock.advance(by: 11)
        let now = clock.unixTime()
        #expect(try store.status(user: "dave", now: now).state == .none)

        let expected = ["Zed", "alice", "bob", "carol", "erin", "e\u{301}mile", "gina", "\u{E9}mile"]
        for limit in [1, 3, 100] {
            var listed: [EnrollmentStatus] = []
            var afterUser: String?
            while true {
                let page = try await list(after: afterUser, now: now, count: limit)
                guard let last = page.last else { break }
                #expect(page.count <= limit)
                listed += page
                afterUser = last.user
            }
            #expect(listed.map { Array($0.user.utf8) } == expected.map { Array($0.utf8) }, "limit \(limit)")
            for status in listed { #expect(status == (try store.status(user: status.user, now: now))) }
        }
        let page = try await list(after: nil, now: now, count: 100)
        let bob = try #require(page.first { $0.user == "bob" })
        #expect(bob.state == .active && bob.failures == 2 && bob.recoveryCodesLeft == 9 && bob.expiresAt != nil)
        #expect(page.first { $0.user == "gina" }?.lockedUntil != nil)
        #expect(page.first { $0.user == "carol" }?.state == .pending)
        #expect(page.first { $0.user == "erin" }.map { $0.state == .revoked && $0.activatedAt != nil } == true)
        #expect(try await list(after: "\u{E9}mile", now: now, count: 100).isEmpty)
        #expect(try await list(after: "bob", now: now, count: 1).map(\.user) == ["carol"])
    }

    @Test func secretsAreEncryptedAtRestAndBoundToTheirUser() async throws {
        let (secret, _) = try await enroll("alice")
        _ = try await enroll("bob")
        let database = try DatabaseQueue(path: directory.path + "/totpd.sqlite")
        let blobs = try await database.read { db in try Data.fetchAll(db, sql: "SELECT sealed_secret FROM enrollment") }
        #expect(blobs.count == 2)
        for blob in blobs {
            #expect(blob.range(of: Data(secret)) == nil)
            #expect(blob.range(of: Data(Base32.encode(secret).utf8)) == nil)
        }
        // Swapping ciphertexts between users must not give bob alice's secret.
        try await database.write { db in
            try db.execute(sql: "UPDATE enrollment SET sealed_secret = (SELECT sealed_secret FROM enrollment WHERE user = 'alice') WHERE user = 'bob'")
        }
        clock.advance(by: 30)
        await #expect(throws: SecretSealer.OpenError.self) { try await verify("bob", code(secret)) }
    }

    @Test func auditRowsNeverHoldCodes() async throws {
        let (secret, _) = try await enroll("alice")
        clock.advance(by: 30)
        let used = code(secret)
        _ = try await verify("alice", used)
        let entries = try await store.auditLog(user: "alice", since: nil, afterID: 0, limit: 100)
        #expect(entries.map(\.event) == ["enroll-begin", "enroll-confirm", "verify"])
        #expect(entries.last?.result == "accepted" && entries.last?.service == "sudo")
        let database = try DatabaseQueue(path: directory.path + "/totpd.sqlite")
        let rows = try await database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM audit").description }
        #expect(!rows.contains(used))
    }
}
