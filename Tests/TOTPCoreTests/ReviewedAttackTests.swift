import Crypto
import Foundation
import GRDB
import Logging
import Testing

@testable import TOTPCore

/// The attacks an independent review reproduced against an earlier build (docs/SECURITY.md,
/// "Reviewed attacks"), each shown to fail, through the real socket and store where a Swift
/// test can reach them; Tests/system has the ones that need real accounts, PAM or NSS.
@Suite(.serialized) struct ReviewedAttackTests {
    let user = TestDaemon.currentUser

    /// A.1: a guesser racing a pending replacement gets the rate limit, the shared failure
    /// count and three wrong codes, after which the pending secret is gone.
    @Test(.enabled(if: getuid() == 0, "replacing an active enrollment without proof needs root"))
    func confirmationCodesCannotBeGuessed() async throws {
        try await TestDaemon.run { daemon in
            let secret = try await daemon.enroll(user)
            daemon.clock.advance(by: 30)
            let replacement = try await daemon.client.send(.enrollBegin(user: user, proof: nil))
            let newSecret = try #require(replacement.string(.secret))
            let wrong = try wrongCode(for: [secret, newSecret], daemon)
            #expect(try await daemon.client.send(.enrollConfirm(user: user, code: wrong)).result == .rejected)
            #expect(try await daemon.client.send(.enrollConfirm(user: user, code: wrong)).result == .rejected)
            let third = try await daemon.client.send(.enrollConfirm(user: user, code: wrong))
            #expect(third.result == .notEnrolled && third.explanation?.contains("cancelled") == true)
            // Void: the right code for the new secret no longer activates anything.
            daemon.clock.advance(by: 30)
            #expect(try await daemon.client.send(.enrollConfirm(user: user, code: daemon.code(newSecret))).result == .notEnrolled)
            // The active enrollment is untouched and its code still logs in.
            let verify = Request.verify(user: user, code: try daemon.code(secret), context: AuditContext())
            #expect(try await daemon.client.send(verify).result == .ok)

            // Verifications and confirmations share one rate limit: two wrong logins and one
            // wrong confirmation use up the window, and even the right confirmation waits.
            daemon.clock.advance(by: 30)
            let again = try #require(try await daemon.client.send(.enrollBegin(user: user, proof: nil)).string(.secret))
            let wrongNow = try wrongCode(for: [secret, again], daemon)
            for _ in 0..<2 {
                #expect(try await daemon.client.send(.verify(user: user, code: wrongNow, context: AuditContext())).result == .rejected)
            }
            #expect(try await daemon.client.send(.enrollConfirm(user: user, code: wrongNow)).result == .rejected)
            let limited = try await daemon.client.send(.enrollConfirm(user: user, code: daemon.code(again)))
            #expect(limited.result == .locked && limited.fields.contains { $0.tag == FieldTag.retryAfter.rawValue })
            // The failures count toward the account's lockout: two more wrong codes lock it.
            daemon.clock.advance(by: 30)
            let wrongLater = try wrongCode(for: [secret, again], daemon)
            #expect(try await daemon.client.send(.verify(user: user, code: wrongLater, context: AuditContext())).result == .rejected)
            #expect(try await daemon.client.send(.enrollConfirm(user: user, code: wrongLater)).result == .rejected)
            let status = try await daemon.client.send(.status(user: user))
            #expect(status.fields.contains { $0.tag == FieldTag.lockedUntil.rawValue }, "\(status)")
        }
    }

    /// A.2: the database alone (a backup without the key) does not let anyone test guesses of
    /// recovery codes; with the key, the digests are exactly the keyed ones.
    @Test func recoveryCodesNeedTheKeyToBeTested() async throws {
        try await TestDaemon.run { daemon in
            let begun = try await daemon.client.send(.enrollBegin(user: user, proof: nil))
            let secret = try #require(begun.string(.secret))
            let codes = try await daemon.client.send(.enrollConfirm(user: user, code: daemon.code(secret))).recoveryCodes
            #expect(codes.count == 10)
            let (columns, digests) = try await DatabaseQueue(path: daemon.configuration.databasePath).read { db in
                (try db.columns(in: "recovery_code").map(\.name), try Data.fetchAll(db, sql: "SELECT digest FROM recovery_code"))
            }
            #expect(!columns.contains("salt"))
            let key = SymmetricKey(data: try Data(contentsOf: URL(fileURLWithPath: daemon.configuration.keyFilePath)))
            let derived = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data("totpd recovery codes v1".utf8), outputByteCount: 32)
            for code in codes {
                let normalized = RecoveryCode.normalize(code)!
                #expect(digests.contains(RecoveryCode.digest(normalized, user: user, key: derived)))
                // Without the key: neither the plain hash nor a digest under another key matches.
                #expect(!digests.contains(Data(SHA256.hash(data: Data(normalized.utf8)))))
                #expect(!digests.contains(RecoveryCode.digest(normalized, user: user, key: SymmetricKey(size: .bits256))))
            }
            daemon.clock.advance(by: 30)
            #expect(try await daemon.client.send(.verify(user: user, code: SubmittedCode(codes[3])!, context: AuditContext())).result == .ok)
        }
    }

    /// A.9: after a revoke, a replacement, and a lapse, no file of the state directory holds
    /// the sealed secrets that were removed (the write-ahead log included).
    @Test(.enabled(if: getuid() == 0, "replacing an active enrollment without proof needs root"))
    func removedSecretsLeaveNoCopyInAnyFile() async throws {
        try await TestDaemon.run { daemon in
            func sealed() throws -> [Data] {
                try DatabaseQueue(path: daemon.configuration.databasePath).read { db in
                    try Data.fetchAll(
                        db, sql: "SELECT sealed_secret FROM enrollment WHERE sealed_secret IS NOT NULL "
                            + "UNION ALL SELECT sealed_secret FROM pending_enrollment")
                }
            }
            func stateFiles() throws -> [Data] {
                let directory = daemon.configuration.stateDirectory
                return try FileManager.default.contentsOfDirectory(atPath: directory).map {
                    try Data(contentsOf: URL(fileURLWithPath: directory + "/" + $0))
                }
            }
            _ = try await daemon.enroll(user)
            let first = try sealed()
            #expect(first.count == 1)
            // Replaced: a new pending secret, confirmed over the old one.
            daemon.clock.advance(by: 30)
            let pending = try #require(try await daemon.client.send(.enrollBegin(user: user, proof: nil)).string(.secret))
            #expect(try await daemon.client.send(.enrollConfirm(user: user, code: daemon.code(pending))).result == .ok)
            // Another pending one replaced by a newer one before it was confirmed; then a revoke.
            _ = try await daemon.client.send(.enrollBegin(user: user, proof: nil))
            let withFirstPending = try sealed()
            _ = try await daemon.client.send(.enrollBegin(user: user, proof: nil))
            let withSecondPending = try sealed()
            #expect(try await daemon.client.send(.revoke(user: user)).result == .ok)
            let gone = Set(first + withFirstPending + withSecondPending)
            #expect(gone.count == 4)
            for file in try stateFiles() {
                for secret in gone { #expect(file.range(of: secret) == nil, "a removed secret is still in a state file") }
            }
        }
    }

    private func wrongCode(for secrets: [String], _ daemon: TestDaemon) throws -> SubmittedCode {
        let near = Set(try secrets.flatMap { secret in try (-2...2).map { try daemon.code(secret, offset: Int64($0)).text } })
        return .totp((0...).lazy.map { String(format: "%06d", $0) }.first { !near.contains($0) }!)
    }
}
