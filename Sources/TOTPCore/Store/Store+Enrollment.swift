import Crypto
import Foundation
import GRDB

extension Store {
    package enum BeginOutcome: Sendable, Equatable {
        case started(secret: [UInt8], expiresAt: Int64)
        /// The user has an active enrollment and gave no current or recovery code.
        case proofRequired
        /// The code given as proof was not accepted (wrong, replayed, or the user is locked).
        case proofRefused(VerifyOutcome)
        /// A login may only set up a first enrollment, never replace an active one.
        case alreadyEnrolled
    }

    package enum ConfirmOutcome: Sendable, Equatable {
        case activated(recoveryCodes: [String])
        case rejected
        case notPending
    }

    package enum RegenerateOutcome: Sendable, Equatable {
        case regenerated(recoveryCodes: [String])
        case refused(VerifyOutcome)
    }

    /// Who is starting the enrollment: an admin may replace an active one outright; the owner
    /// must prove possession with a current code or a recovery code, checked like a login; a
    /// login (the PAM module) may only start one for a user without an active enrollment.
    package enum EnrollmentAuthority: Sendable, Equatable {
        case admin
        case owner(proof: SubmittedCode?)
        case login
    }

    /// Creates a fresh pending secret. An active enrollment stays in force until the new one is
    /// confirmed.
    package func beginEnrollment(
        user: String, parameters: OTPParameters, lifetime: Int64, authority: EnrollmentAuthority, now: Int64,
        source: AuditSource
    ) async throws -> BeginOutcome {
        try await writer.write { [self] db in
            try Self.purgeLapsedEnrollments(db, now: now)
            let active = try EnrollmentRecord.fetchOne(db, key: user)?.state == EnrollmentState.active.rawValue
            if active, authority == .login {
                try Self.audit(db, "enroll-begin", user: user, source: source, now: now, result: "already-enrolled")
                return .alreadyEnrolled
            }
            if active, case .owner(let proof) = authority {
                guard let proof else {
                    try Self.audit(db, "enroll-begin", user: user, source: source, now: now, result: "proof-required")
                    return .proofRequired
                }
                let outcome = try throttledAttempt(db, user: user, event: "enroll-proof", now: now, source: source) {
                    row, secret in
                    switch proof {
                    case .totp(let code): return try checkTOTP(code, row: &row, secret: secret, now: now)
                    case .recovery(let code): return try useRecoveryCode(db, code, user: user, now: now)
                    }
                }
                guard outcome == .accepted else { return .proofRefused(outcome) }
            }
            let secret = SymmetricKey(size: SymmetricKeySize(bitCount: 160)).withUnsafeBytes { Array($0) }
            let pending = PendingEnrollmentRecord(
                user: user, sealedSecret: try sealer.seal(secret, user: user),
                algorithm: parameters.algorithm.rawValue, digits: parameters.digits, period: parameters.period,
                createdAt: now, expiresAt: now + lifetime, failures: 0)
            try pending.upsert(db)
            try Self.audit(db, "enroll-begin", user: user, source: source, now: now, result: "pending")
            return .started(secret: secret, expiresAt: pending.expiresAt)
        }
    }

    /// Activates the pending enrollment if `code` is right for it: the step used counts as used,
    /// and a new set of recovery codes replaces any earlier one.
    package func confirmEnrollment(user: String, code: String, now: Int64, source: AuditSource) async throws -> ConfirmOutcome {
        try await writer.write { [self] db in
            try Self.purgeLapsedEnrollments(db, now: now)
            guard var pending = try PendingEnrollmentRecord.fetchOne(db, key: user) else {
                try Self.audit(db, "enroll-confirm", user: user, source: source, now: now, result: "not-pending")
                return .notPending
            }
            let parameters = try pending.parameters()
            let check = CodeCheck.evaluate(
                code: code, secret: try sealer.open(pending.sealedSecret, user: user), parameters: parameters,
                unixTime: now, window: window, lastUsedStep: nil)
            guard case .accepted(let step) = check else {
                pending.failures += 1
                try pending.update(db)
                try Self.audit(db, "enroll-confirm", user: user, source: source, now: now, result: "rejected")
                return .rejected
            }
            let active = EnrollmentRecord(
                user: user, state: EnrollmentState.active.rawValue, sealedSecret: pending.sealedSecret,
                algorithm: pending.algorithm, digits: pending.digits, period: pending.period, activatedAt: now,
                // No drift is learned here: the confirming code is typed with setup latency
                // (scanning, typing), which would shift the window away from a phone in sync.
                revokedAt: nil, lastStep: Int64(step), lastSuccessAt: now, failures: 0, drift: 0)
            try active.upsert(db)
            try pending.delete(db)
            let codes = try Self.replaceRecoveryCodes(db, user: user, now: now)
            try Self.audit(db, "enroll-confirm", user: user, source: source, now: now, result: "activated")
            return .activated(recoveryCodes: codes)
        }
    }

    /// New recovery codes for an active user who proves possession with a current code.
    package func regenerateRecoveryCodes(user: String, code: String, now: Int64, source: AuditSource) async throws -> RegenerateOutcome {
        try await writer.write { [self] db in
            let outcome = try throttledAttempt(db, user: user, event: "recovery-regenerate", now: now, source: source) {
                row, secret in try checkTOTP(code, row: &row, secret: secret, now: now)
            }
            guard outcome == .accepted else { return .refused(outcome) }
            return .regenerated(recoveryCodes: try Self.replaceRecoveryCodes(db, user: user, now: now))
        }
    }

    private static func replaceRecoveryCodes(_ db: Database, user: String, now: Int64) throws -> [String] {
        try RecoveryCodeRecord.filter(Column("user") == user).deleteAll(db)
        return try (0..<RecoveryCode.count).map { _ in
            let code = RecoveryCode.generate()
            let salt = RecoveryCode.newSalt()
            var record = RecoveryCodeRecord(
                id: nil, user: user, salt: salt, hash: RecoveryCode.hash(RecoveryCode.normalize(code)!, salt: salt),
                createdAt: now, usedAt: nil)
            try record.insert(db)
            return code
        }
    }
}
