import Crypto
import Foundation
import GRDB

extension Store {
    /// Wrong confirmation codes after which a pending enrollment is void.
    static let maxConfirmationFailures = 3

    package enum BeginOutcome: Sendable, Equatable {
        case started(secret: [UInt8], expiresAt: Int64)
        /// The user has an active enrollment and gave no current or recovery code.
        case proofRequired
        /// The code given as proof was not accepted (wrong, replayed, or the user is locked).
        case proofRefused(VerifyOutcome)
        /// A login may only set up a first enrollment, never replace an active one.
        case alreadyEnrolled
        /// An admin revoked the enrollment: only an admin may start a new one, or `reset` it.
        case revokedUntilReset
    }

    package enum ConfirmOutcome: Sendable, Equatable {
        case activated(recoveryCodes: [String])
        case rejected
        /// That wrong code was one too many: the pending enrollment is gone.
        case voided
        case locked(retryAfter: Int64?)
        case notPending
    }

    package enum RegenerateOutcome: Sendable, Equatable {
        case regenerated(recoveryCodes: [String])
        case refused(VerifyOutcome)
    }

    /// Who is starting the enrollment: root, or an admin acting on an ordinary account, may
    /// replace an active one outright; the owner must prove possession with a current code or a
    /// recovery code, checked like a login; a login (the PAM module) may only start one for a
    /// user without an active enrollment.
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
        let outcome = try await write(for: source.caller) { [self] db -> BeginOutcome in
            try Self.purgeLapsedEnrollments(db, now: now)
            let state = try EnrollmentRecord.fetch(db, user: user)?.state
            if state == EnrollmentState.revoked.rawValue, authority != .admin {
                try audit(db, .enrollBegin, user: user, source: source, now: now, result: .revokedUntilReset)
                return .revokedUntilReset
            }
            let active = state == EnrollmentState.active.rawValue
            if active, authority == .login {
                try audit(db, .enrollBegin, user: user, source: source, now: now, result: .alreadyEnrolled)
                return .alreadyEnrolled
            }
            if active, case .owner(let proof) = authority {
                guard let proof else {
                    try audit(db, .enrollBegin, user: user, source: source, now: now, result: .proofRequired)
                    return .proofRequired
                }
                let outcome = try activeAttempt(db, user: user, event: .enrollProof, now: now, source: source) {
                    row, secret in try check(proof, db: db, row: &row, secret: secret, now: now)
                }
                guard outcome == .accepted else { return .proofRefused(outcome) }
            }
            let secret = SymmetricKey(size: SymmetricKeySize(bitCount: 160)).withUnsafeBytes { Array($0) }
            let pending = PendingEnrollmentRecord(
                user: user, sealedSecret: try sealer.seal(secret, user: user),
                algorithm: parameters.algorithm.rawValue, digits: parameters.digits, period: parameters.period,
                createdAt: now, expiresAt: now + lifetime, failures: 0)
            try pending.save(db)
            try audit(db, .enrollBegin, user: user, source: source, now: now, result: .pending)
            return .started(secret: secret, expiresAt: pending.expiresAt)
        }
        // A pending secret this one replaced must not stay in the log.
        if case .started = outcome { await checkpointRemovingOldPages(for: source.caller, now: now) }
        return outcome
    }

    /// Activates the pending enrollment if `code` is right for it: the step used counts as used,
    /// and a new set of recovery codes replaces any earlier one. Confirmation codes are
    /// throttled like logins, and a few wrong ones void the pending enrollment.
    package func confirmEnrollment(
        user: String, code: String, now: Int64, source: AuditSource
    ) async throws -> ConfirmOutcome {
        let outcome = try await write(for: source.caller) { [self] db -> ConfirmOutcome in
            try Self.purgeLapsedEnrollments(db, now: now)
            guard var pending = try PendingEnrollmentRecord.fetch(db, user: user) else {
                try audit(db, .enrollConfirm, user: user, source: source, now: now, result: .notPending)
                return .notPending
            }
            var acceptedStep: UInt64?
            let checked = try throttledAttempt(
                db, user: user, event: .enrollConfirm, now: now, source: source, auditingSuccessAs: .activated
            ) {
                let check = CodeCheck.evaluate(
                    code: code, secret: try sealer.open(pending.sealedSecret, user: user), parameters: try pending.parameters(),
                    unixTime: now, window: window, lastUsedStep: nil)
                guard case .accepted(let step) = check else { return .wrong }
                acceptedStep = step
                return .accepted
            }
            switch checked {
            case .locked(let retryAfter):
                return .locked(retryAfter: retryAfter)
            case .rejected, .replayed, .notEnrolled:
                pending.failures += 1
                guard pending.failures < Self.maxConfirmationFailures else {
                    try pending.delete(db)
                    try audit(db, .enrollConfirm, user: user, source: source, now: now, result: .voided)
                    return .voided
                }
                try pending.save(db)
                return .rejected
            case .accepted:
                break
            }
            let active = EnrollmentRecord(
                user: user, state: EnrollmentState.active.rawValue, sealedSecret: pending.sealedSecret,
                algorithm: pending.algorithm, digits: pending.digits, period: pending.period, activatedAt: now,
                // No drift is learned here: the confirming code is typed with setup latency
                // (scanning, typing), which would shift the window away from a phone in sync.
                revokedAt: nil, lastStep: acceptedStep.map { Int64($0) }, lastSuccessAt: now, drift: 0)
            try active.save(db)
            try pending.delete(db)
            return .activated(recoveryCodes: try replaceRecoveryCodes(db, user: user, now: now))
        }
        switch outcome {
        case .activated, .voided: await checkpointRemovingOldPages(for: source.caller, now: now)
        case .rejected, .locked, .notPending: break
        }
        return outcome
    }

    /// New recovery codes for an active user who proves possession with a current code.
    package func regenerateRecoveryCodes(
        user: String, code: String, now: Int64, source: AuditSource
    ) async throws -> RegenerateOutcome {
        let outcome = try await write(for: source.caller) { [self] db -> RegenerateOutcome in
            let outcome = try activeAttempt(db, user: user, event: .recoveryRegenerate, now: now, source: source) {
                row, secret in try checkTOTP(code, row: &row, secret: secret, now: now)
            }
            guard outcome == .accepted else { return .refused(outcome) }
            return .regenerated(recoveryCodes: try replaceRecoveryCodes(db, user: user, now: now))
        }
        if case .regenerated = outcome { await checkpointRemovingOldPages(for: source.caller, now: now) }
        return outcome
    }

    private func replaceRecoveryCodes(_ db: Database, user: String, now: Int64) throws -> [String] {
        try RecoveryCodeRecord.filter(Column("user") == user).deleteAll(db)
        return try (0..<RecoveryCode.count).map { _ in
            let code = RecoveryCode.generate()
            var record = RecoveryCodeRecord(
                id: nil, user: user, digest: RecoveryCode.digest(RecoveryCode.normalize(code)!, user: user, key: recoveryKey),
                createdAt: now, usedAt: nil)
            try record.insert(db)
            return code
        }
    }
}
