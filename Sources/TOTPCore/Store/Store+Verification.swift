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
        try await writer.write { [self] db in
            let outcome = try throttledAttempt(db, user: user, event: "verify", now: now, source: source) { row, secret in
                switch code {
                case .totp(let typed): return try checkTOTP(typed, row: &row, secret: secret, now: now)
                case .recovery(let typed): return try useRecoveryCode(db, typed, user: user, now: now)
                }
            }
            if outcome == .accepted, source.caller.isRoot, let service = source.context.service,
                let origin = source.context.origin
            {
                try GraceRecord(user: user, service: service, origin: origin, succeededAt: now).upsert(db)
            }
            return outcome
        }
    }

    /// Learns a large clock skew from two consecutive codes, searching up to a day either way.
    package func resync(
        user: String, code: String, nextCode: String, now: Int64, source: AuditSource
    ) async throws -> VerifyOutcome {
        try await writer.write { [self] db in
            try throttledAttempt(db, user: user, event: "resync", now: now, source: source) { row, secret in
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
    package func withinGracePeriod(user: String, service: String, origin: String, period: Int64, now: Int64) async throws -> Bool {
        try await writer.read { db in
            guard let record = try GraceRecord.fetchOne(db, key: ["user": user, "service": service, "origin": origin]) else {
                return false
            }
            return now >= record.succeededAt && now - record.succeededAt < period
        }
    }

    /// One checked attempt against the active enrollment, with the rate limit and lockout applied
    /// before the code is looked at: a locked or rate-limited attempt is not checked at all, so
    /// guesses made then teach nothing.
    func throttledAttempt(
        _ db: Database, user: String, event: String, now: Int64, source: AuditSource,
        check: (inout EnrollmentRecord, [UInt8]) throws -> AttemptCheck
    ) throws -> VerifyOutcome {
        guard var row = try EnrollmentRecord.fetchOne(db, key: user), row.state == EnrollmentState.active.rawValue,
            let sealed = row.sealedSecret
        else {
            try Self.audit(db, event, user: user, source: source, now: now, result: "not-enrolled")
            return .notEnrolled
        }
        if let lockedUntil = row.lockedUntil, now < lockedUntil {
            try Self.audit(db, event, user: user, source: source, now: now, result: "locked")
            return .locked(retryAfter: lockedUntil == .max ? nil : lockedUntil - now)
        }
        if now - row.windowStart >= throttle.interval || now < row.windowStart {
            row.windowStart = now
            row.windowAttempts = 0
        }
        guard row.windowAttempts < throttle.attempts else {
            try Self.audit(db, event, user: user, source: source, now: now, result: "rate-limited")
            return .locked(retryAfter: row.windowStart + throttle.interval - now)
        }
        row.windowAttempts += 1
        let check = try check(&row, try sealer.open(sealed, user: user))
        let outcome: VerifyOutcome
        switch check {
        case .accepted:
            row.failures = 0
            row.lockedUntil = nil
            row.lastSuccessAt = now
            outcome = .accepted
        case .replayed, .wrong:
            row.failures += 1
            outcome = check == .replayed ? .replayed : .rejected
            if let delay = throttle.lockDuration(afterFailures: row.failures) {
                row.lockedUntil = delay == .max ? .max : now + delay
                try Self.audit(
                    db, "lockout", user: user, source: source, now: now,
                    result: delay == .max ? "until-unlock" : "for-\(delay)s")
                // Reported once the transaction has committed, never for a rolled-back one.
                let observer = lockoutObserver
                db.afterNextTransaction { _ in observer(user, delay == .max ? nil : delay) }
            }
        }
        try row.update(db)
        try Self.audit(db, event, user: user, source: source, now: now, result: "\(outcome)")
        return outcome
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

    /// Marks the matching unused recovery code used. Every unused code is hashed and compared.
    func useRecoveryCode(_ db: Database, _ code: String, user: String, now: Int64) throws -> AttemptCheck {
        var matched: RecoveryCodeRecord?
        for record in try RecoveryCodeRecord.filter(Column("user") == user && Column("used_at") == nil).fetchAll(db) {
            let candidate = RecoveryCode.hash(code, salt: record.salt)
            if OneTimePassword.constantTimeEqual(candidate, record.hash) && matched == nil { matched = record }
        }
        guard var matched else { return .wrong }
        matched.usedAt = now
        try matched.update(db)
        return .accepted
    }
}

extension AuditContext {
    /// Where a login came from, for grace periods: the remote host, else the terminal.
    var origin: String? { rhost.flatMap { $0.isEmpty ? nil : $0 } ?? tty.flatMap { $0.isEmpty ? nil : $0 } }
}
