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
        store = try Store(path: directory.path + "/totpd.sqlite", key: SymmetricKey(size: .bits256))
    }

    func code(_ secret: [UInt8], offset: Int64 = 0) -> String {
        let step = OneTimePassword.step(at: clock.unixTime() + offset * 30, period: 30)
        return OneTimePassword.totp(secret: secret, step: step, parameters: .default)
    }

    func enroll(_ user: String) async throws -> [UInt8] {
        guard case .started(let secret, _) = try await store.beginEnrollment(
            user: user, parameters: .default, lifetime: 600, replacingActive: false, now: clock.unixTime(),
            source: source)
        else { throw CancellationError() }
        #expect(try await store.confirmEnrollment(user: user, code: code(secret), window: 1, now: clock.unixTime(), source: source) == .activated)
        return secret
    }

    func verify(_ user: String, _ code: String) async throws -> Store.VerifyOutcome {
        try await store.verify(user: user, code: code, window: 1, now: clock.unixTime(), source: source)
    }

    @Test func writerSyncsEveryCommit() throws {
        #expect(try store.writerSynchronousMode() == 2)
    }

    @Test func enrollConfirmVerifyAndReplay() async throws {
        #expect(try await store.status(user: "alice", now: clock.unixTime()).state == .none)
        let secret = try await enroll("alice")
        #expect(try await store.status(user: "alice", now: clock.unixTime()).state == .active)
        // The confirming code's step is used up.
        #expect(try await verify("alice", code(secret)) == .replayed)
        clock.advance(by: 30)
        #expect(try await verify("alice", code(secret)) == .accepted)
        #expect(try await verify("alice", code(secret)) == .replayed)
        clock.advance(by: 30)
        let wrong = code(secret) == "000000" ? "000001" : "000000"
        #expect(try await verify("alice", wrong) == .rejected)
        // The replay after the success and the wrong code both count.
        #expect(try await store.status(user: "alice", now: clock.unixTime()).failures == 2)
        #expect(try await verify("alice", code(secret)) == .accepted)
        #expect(try await store.status(user: "alice", now: clock.unixTime()).failures == 0)
    }

    @Test func codesFromTheWindowEdgesOnly() async throws {
        let secret = try await enroll("alice")
        clock.advance(by: 300)
        #expect(try await verify("alice", code(secret, offset: 2)) == .rejected)
        #expect(try await verify("alice", code(secret, offset: -2)) == .rejected)
        #expect(try await verify("alice", code(secret, offset: -1)) == .accepted)
        #expect(try await verify("alice", code(secret, offset: 1)) == .accepted)
        // Steps only move forward: the current step is now behind the last accepted one.
        #expect(try await verify("alice", code(secret)) == .replayed)
    }

    @Test func oneCodeSubmittedConcurrentlySucceedsOnce() async throws {
        let secret = try await enroll("alice")
        clock.advance(by: 30)
        let current = code(secret)
        let (store, source, now) = (store, source, clock.unixTime())
        let outcomes = try await withThrowingTaskGroup(of: Store.VerifyOutcome.self) { group in
            for _ in 0..<20 {
                group.addTask { try await store.verify(user: "alice", code: current, window: 1, now: now, source: source) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .accepted }.count == 1)
        #expect(outcomes.filter { $0 == .replayed }.count == 19)
    }

    @Test func pendingEnrollmentLapses() async throws {
        guard case .started(let secret, let expiresAt) = try await store.beginEnrollment(
            user: "bob", parameters: .default, lifetime: 600, replacingActive: false, now: clock.unixTime(),
            source: source)
        else { Issue.record("enrollment did not start"); return }
        #expect(expiresAt == clock.unixTime() + 600)
        #expect(try await store.status(user: "bob", now: clock.unixTime()).state == .pending)
        clock.advance(by: 601)
        #expect(try await store.status(user: "bob", now: clock.unixTime()).state == .none)
        #expect(try await store.confirmEnrollment(user: "bob", code: code(secret), window: 1, now: clock.unixTime(), source: source) == .notPending)
        #expect(try await verify("bob", code(secret)) == .notEnrolled)
    }

    @Test func activeEnrollmentSurvivesUntilReplacementIsConfirmed() async throws {
        let old = try await enroll("alice")
        #expect(try await store.beginEnrollment(user: "alice", parameters: .default, lifetime: 600, replacingActive: false, now: clock.unixTime(), source: source) == .alreadyActive)
        guard case .started(let new, _) = try await store.beginEnrollment(
            user: "alice", parameters: .default, lifetime: 600, replacingActive: true, now: clock.unixTime(),
            source: source)
        else { Issue.record("re-enrollment did not start"); return }
        clock.advance(by: 30)
        #expect(try await verify("alice", code(old)) == .accepted)
        #expect(try await store.confirmEnrollment(user: "alice", code: code(new), window: 1, now: clock.unixTime(), source: source) == .activated)
        clock.advance(by: 30)
        #expect(try await verify("alice", code(old)) == .rejected)
        #expect(try await verify("alice", code(new)) == .accepted)
    }

    @Test func revokeRemovesTheSecret() async throws {
        let secret = try await enroll("alice")
        #expect(try await store.revoke(user: "alice", now: clock.unixTime(), source: source))
        #expect(try await store.revoke(user: "alice", now: clock.unixTime(), source: source) == false)
        clock.advance(by: 30)
        #expect(try await verify("alice", code(secret)) == .notEnrolled)
        #expect(try await store.status(user: "alice", now: clock.unixTime()).state == .revoked)
        #expect(try await store.list(now: clock.unixTime()).map(\.state) == [.revoked])
    }

    @Test func secretsAreEncryptedAtRestAndBoundToTheirUser() async throws {
        let secret = try await enroll("alice")
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
        let secret = try await enroll("alice")
        clock.advance(by: 30)
        let used = code(secret)
        _ = try await verify("alice", used)
        let database = try DatabaseQueue(path: directory.path + "/totpd.sqlite")
        let rows = try database.read { db in try Row.fetchAll(db, sql: "SELECT * FROM audit ORDER BY id") }
        #expect(rows.map { $0["event"] as String } == ["enroll-begin", "enroll-confirm", "verify"])
        #expect(rows.last?["result"] == "accepted")
        #expect(rows.last?["service"] == "sudo")
        for row in rows { #expect(!row.description.contains(used)) }
    }
}
