import Foundation
import GRDB

extension Store {
    /// How a checked code turned out, before throttling bookkeeping.
    enum AttemptCheck {
        case accepted
        case replayed
        case wrong
    }

    /// The largest clock skew, in steps, that a resync may learn (one day at 30 s steps).
    static let maxResyncSteps: Int64 = 2880

    /// Checks a TOTP or recovery code and consumes it on success. For a root caller (the login
    /// stack) the service and origin (remote host, else tty) are remembered for grace periods;
    /// what other callers say of them is their own claim, and must not excuse a later login.
    package func verify(
        user: String, code: SubmittedCode, now: Int64, source: AuditSource
    ) async throws -> VerifyOutcome {
        try await verify(user: user, code: code, now: now, source: source, onlyIfEnrollmentKey: false)!
    }

    /// `verify` for a name that may not be canonical: when `user` is not exactly the key of an
    /// enrollment (active, pending or revoked), nothing is checked or written and the answer is
    /// nil, so the caller can look the name up and try again under the canonical one.
    package func verifyIfEnrollmentKey(
        user: String, code: SubmittedCode, now: Int64, source: AuditSource
    ) async throws -> VerifyOutcome? {
        try await verify(user: user, code: code, now: now, source: source, onlyIfEnrollmentKey: true)
    }

    private func verify(
        user: String, code: SubmittedCode, now: Int64, source: AuditSource, onlyIfEnrollmentKey: Bool
    ) async throws -> VerifyOutcome? {
        try await write(for: source.caller) { [self] db in
            if onlyIfEnrollmentKey, try !Self.hasEnrollment(db, exactly: user) { return nil }
            let outcome = try activeAttempt(db, user: user, event: .verify, now: now, source: source) { row, secret in
                try check(code, db: db, row: &row, secret: secret, now: now)
            }
            if outcome == .accepted, source.caller.isRoot, let service = source.context.service,
                let origin = source.context.origin
            {
                try GraceRecord(user: user, service: service, origin: origin, succeededAt: now).save(db)
            }
            return outcome
        }
    }

    /// Learns a large clock skew from two consecutive codes, searching up to a day either way.
    package func resync(
        user: String, code: String, nextCode: String, now: Int64, source: AuditSource
    ) async throws -> VerifyOutcome {
        try await write(for: source.caller) { [self] db in
            try activeAttempt(db, user: user, event: .resync, now: now, source: source) { row, secret in
                let parameters = try row.parameters()
                let current = Int64(OneTimePassword.step(at: now, period: parameters.period))
                var found: Int64?
                for offset in -Self.maxResyncSteps...Self.maxResyncSteps where current + offset >= 0 {
                    let step = UInt64(current + offset)
                    let first = OneTimePassword.totp(secret: secret, step: step, parameters: parameters)
                    guard OneTimePassword.constantTimeEqual(first, code) else { continue }
                    let second = OneTimePassword.totp(secret: secret, step: step + 1, parameters: parameters)
                    if OneTimePassword.constantTimeEqual(second, nextCode) { found = offset + 1 }
                }
                guard let found else { return .wrong }
                let step = current + found
                if let lastStep = row.lastStep, step <= lastStep { return .replayed }
                row.lastStep = step
                row.drift = found
                return .accepted
            }
        }
    }

    /// Whether `user` succeeded through `service` from `origin` within `period` seconds.
    package func withinGracePeriod(user: String, service: String, origin: String, period: Int64, now: Int64) throws -> Bool {
        try readNow { db in
            guard let record = try GraceRecord.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM grace WHERE user = ? AND service = ? AND origin = ?"),
                arguments: [user, service, origin])
            else {
                return false
            }
            return now >= record.succeededAt && now - record.succeededAt < period
        }
    }

    /// One throttled check against the active enrollment; what the check changes in the row
    /// (last step, drift) is stored when it succeeds.
    func activeAttempt(
        _ db: Database, user: String, event: AuditEvent, now: Int64, source: AuditSource,
        check: (inout EnrollmentRecord, [UInt8]) throws -> AttemptCheck
    ) throws -> VerifyOutcome {
        guard var row = try EnrollmentRecord.fetch(db, user: user), row.state == EnrollmentState.active.rawValue,
            let sealed = row.sealedSecret
        else {
            try audit(db, event, user: user, source: source, now: now, result: .notEnrolled)
            return .notEnrolled
        }
        let outcome = try throttledAttempt(db, user: user, event: event, now: now, source: source) {
            try check(&row, try sealer.open(sealed, user: user))
        }
        if outcome == .accepted {
            row.lastSuccessAt = now
            try row.save(db)
        }
        return outcome
    }

    /// One checked attempt for `user`, whatever it checks, with the rate limit and lockout
    /// applied before the code is looked at: a locked or rate-limited attempt is not checked at
    /// all, so guesses made then teach nothing. The counts are the account's, shared by every
    /// path that checks a code, and change in the caller's transaction.
    func throttledAttempt(
        _ db: Database, user: String, event: AuditEvent, now: Int64, source: AuditSource,
        auditingSuccessAs success: AuditResult = .accepted, check: () throws -> AttemptCheck
    ) throws -> VerifyOutcome {
        var limits = try ThrottleRecord.fetch(db, user: user) ?? ThrottleRecord(user: user)
        if let lockedUntil = limits.lockedUntil, lockedUntil != .max,
            let length = throttle.lockDuration(afterFailures: limits.failures), lockedUntil - now > length
        {
            // The clock went back since the lock was set: it runs its own length from now, and a
            // jump of days does not turn a minute's lock into days.
            limits.lockedUntil = now + length
            try limits.save(db)
        }
        if let lockedUntil = limits.lockedUntil, now < lockedUntil {
            try audit(db, event, user: user, source: source, now: now, result: .locked)
            return .locked(retryAfter: lockedUntil == .max ? nil : lockedUntil - now)
        }
        if now - limits.windowStart >= throttle.interval || now < limits.windowStart {
            limits.windowStart = now
            limits.windowAttempts = 0
        }
        guard limits.windowAttempts < throttle.attempts else {
            try audit(db, event, user: user, source: source, now: now, result: .rateLimited)
            return .locked(retryAfter: limits.windowStart + throttle.interval - now)
        }
        limits.windowAttempts += 1
        let outcome: VerifyOutcome
        switch try check() {
        case .accepted:
            limits.failures = 0
            limits.lockedUntil = nil
            outcome = .accepted
        case let failed:
            limits.failures += 1
            outcome = failed == .replayed ? .replayed : .rejected
            if let delay = throttle.lockDuration(afterFailures: limits.failures) {
                limits.lockedUntil = delay == .max ? .max : now + delay
                try audit(
                    db, .lockout, user: user, source: source, now: now,
                    result: delay == .max ? .lockedUntilUnlock : .lockedFor(seconds: delay))
                // Reported once the transaction has committed, never for a rolled-back one.
                let observer = lockoutObserver
                db.afterNextTransaction { _ in observer(user, delay == .max ? nil : delay) }
            }
        }
        try limits.save(db)
        try audit(db, event, user: user, source: source, now: now, result: outcome == .accepted ? success : outcome.auditResult)
        return outcome
    }

    /// A TOTP code against the row's secret, or a recovery code against the account's codes.
    func check(
        _ code: SubmittedCode, db: Database, row: inout EnrollmentRecord, secret: [UInt8], now: Int64
    ) throws -> AttemptCheck {
        switch code {
        case .totp(let typed): try checkTOTP(typed, row: &row, secret: secret, now: now)
        case .recovery(let typed): try useRecoveryCode(db, typed, user: row.user, now: now)
        }
    }

    /// A TOTP code within the window around the learned drift; success re-centres the drift.
    func checkTOTP(_ code: String, row: inout EnrollmentRecord, secret: [UInt8], now: Int64) throws -> AttemptCheck {
        let parameters = try row.parameters()
        let check = CodeCheck.evaluate(
            code: code, secret: secret, parameters: parameters, unixTime: now, window: window, drift: row.drift,
            lastUsedStep: row.lastStep.map { UInt64($0) })
        switch check {
        case .accepted(let step):
            row.lastStep = Int64(step)
            let drift = Int64(step) - Int64(OneTimePassword.step(at: now, period: parameters.period))
            row.drift = min(max(drift, -Self.maxResyncSteps), Self.maxResyncSteps)
            return .accepted
        case .replayed: return .replayed
        case .wrong: return .wrong
        }
    }

    /// Marks the matching unused recovery code used. The digest is keyed, so looking it up by
    /// value reveals nothing to a caller who could time it.
    func useRecoveryCode(_ db: Database, _ code: String, user: String, now: Int64) throws -> AttemptCheck {
        let digest = RecoveryCode.digest(code, user: user, key: recoveryKey)
        guard var matched = try RecoveryCodeRecord
            .filter(Column("user") == user && Column("digest") == digest && Column("used_at") == nil).fetchOne(db)
        else { return .wrong }
        matched.usedAt = now
        try matched.update(db)
        return .accepted
    }
}

extension Store.VerifyOutcome {
    var auditResult: AuditResult {
        switch self {
        case .accepted: .accepted
        case .rejected: .rejected
        case .replayed: .replayed
        case .notEnrolled: .notEnrolled
        case .locked: .locked
        }
    }
}

extension AuditContext {
    /// Where a login came from, for grace periods: the remote host, else the terminal.
    var origin: String? { rhost.flatMap { $0.isEmpty ? nil : $0 } ?? tty.flatMap { $0.isEmpty ? nil : $0 } }
}
