import Crypto
import Foundation
import GRDB

/// The only code that touches the database. Each public method is one transaction that keeps
/// the invariants (one active secret per user, steps only move forward) and writes its own audit
/// row in that same transaction, so an answer is never sent for a change that was not stored.
package struct Store: Sendable {
    package enum VerifyOutcome: Sendable, Equatable { case accepted, rejected, replayed, notEnrolled }
    package enum BeginOutcome: Sendable, Equatable { case started(secret: [UInt8], expiresAt: Int64), alreadyActive }
    package enum ConfirmOutcome: Sendable, Equatable { case activated, rejected, notPending }

    private let writer: DatabasePool
    private let sealer: SecretSealer

    package init(path: String, key: SymmetricKey) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            // Freed pages are zeroed, so a revoked secret's ciphertext does not linger in the file.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        writer = try DatabasePool(path: path, configuration: configuration)
        // DatabasePool sets synchronous=NORMAL on its writer; an accepted step must be on disk
        // before the answer goes out, so a crash cannot make a used code valid again.
        try writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try StoreSchema.migrator.migrate(writer)
        sealer = SecretSealer(key: key)
    }

    /// The writer connection's `PRAGMA synchronous` (2 = FULL).
    package func writerSynchronousMode() throws -> Int {
        try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    package func verify(
        user: String, code: String, window: Int, now: Int64, source: AuditSource
    ) async throws -> VerifyOutcome {
        try await writer.write { [sealer] db in
            guard var row = try EnrollmentRecord.fetchOne(db, key: user), row.state == EnrollmentState.active.rawValue,
                let sealed = row.sealedSecret
            else {
                try Self.audit(db, "verify", user: user, source: source, now: now, result: "not-enrolled")
                return .notEnrolled
            }
            let check = CodeCheck.evaluate(
                code: code, secret: try sealer.open(sealed, user: user), parameters: try row.parameters(),
                unixTime: now, window: window, lastUsedStep: row.lastStep.map { UInt64($0) })
            let outcome: VerifyOutcome
            switch check {
            case .accepted(let step):
                row.lastStep = Int64(step)
                row.lastSuccessAt = now
                row.failures = 0
                outcome = .accepted
            case .replayed:
                row.failures += 1
                outcome = .replayed
            case .wrong:
                row.failures += 1
                outcome = .rejected
            }
            try row.update(db)
            try Self.audit(db, "verify", user: user, source: source, now: now, result: "\(outcome)")
            return outcome
        }
    }

    /// Creates a fresh pending secret. An active enrollment stays until the new one is confirmed;
    /// `replacingActive` says whether the caller may replace one at all.
    package func beginEnrollment(
        user: String, parameters: OTPParameters, lifetime: Int64, replacingActive: Bool, now: Int64,
        source: AuditSource
    ) async throws -> BeginOutcome {
        try await writer.write { [sealer] db in
            try Self.purgeLapsedEnrollments(db, now: now)
            let active = try EnrollmentRecord.fetchOne(db, key: user)?.state == EnrollmentState.active.rawValue
            if active && !replacingActive {
                try Self.audit(db, "enroll-begin", user: user, source: source, now: now, result: "already-active")
                return .alreadyActive
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

    /// Activates the pending enrollment if `code` is right for it; the step used counts as used.
    package func confirmEnrollment(
        user: String, code: String, window: Int, now: Int64, source: AuditSource
    ) async throws -> ConfirmOutcome {
        try await writer.write { [sealer] db in
            try Self.purgeLapsedEnrollments(db, now: now)
            guard var pending = try PendingEnrollmentRecord.fetchOne(db, key: user) else {
                try Self.audit(db, "enroll-confirm", user: user, source: source, now: now, result: "not-pending")
                return .notPending
            }
            let check = CodeCheck.evaluate(
                code: code, secret: try sealer.open(pending.sealedSecret, user: user),
                parameters: try pending.parameters(), unixTime: now, window: window, lastUsedStep: nil)
            guard case .accepted(let step) = check else {
                pending.failures += 1
                try pending.update(db)
                try Self.audit(db, "enroll-confirm", user: user, source: source, now: now, result: "rejected")
                return .rejected
            }
            let active = EnrollmentRecord(
                user: user, state: EnrollmentState.active.rawValue, sealedSecret: pending.sealedSecret,
                algorithm: pending.algorithm, digits: pending.digits, period: pending.period, activatedAt: now,
                revokedAt: nil, lastStep: Int64(step), lastSuccessAt: now, failures: 0)
            try active.upsert(db)
            try pending.delete(db)
            try Self.audit(db, "enroll-confirm", user: user, source: source, now: now, result: "activated")
            return .activated
        }
    }

    /// Removes the secret and any pending enrollment. Returns false when there was nothing to revoke.
    package func revoke(user: String, now: Int64, source: AuditSource) async throws -> Bool {
        try await writer.write { db in
            let hadPending = try PendingEnrollmentRecord.deleteOne(db, key: user)
            var revoked = hadPending
            if var row = try EnrollmentRecord.fetchOne(db, key: user), row.state == EnrollmentState.active.rawValue {
                row.state = EnrollmentState.revoked.rawValue
                row.sealedSecret = nil
                row.revokedAt = now
                try row.update(db)
                revoked = true
            }
            try Self.audit(db, "revoke", user: user, source: source, now: now, result: revoked ? "revoked" : "not-enrolled")
            return revoked
        }
    }

    package func status(user: String, now: Int64) async throws -> EnrollmentStatus {
        try await writer.read { db in
            try Self.status(
                user: user, enrollment: EnrollmentRecord.fetchOne(db, key: user),
                pending: PendingEnrollmentRecord.fetchOne(db, key: user), now: now)
        }
    }

    package func list(now: Int64) async throws -> [EnrollmentStatus] {
        try await writer.read { db in
            let enrollments = Dictionary(uniqueKeysWithValues: try EnrollmentRecord.fetchAll(db).map { ($0.user, $0) })
            let pending = Dictionary(uniqueKeysWithValues: try PendingEnrollmentRecord.fetchAll(db).map { ($0.user, $0) })
            return Set(enrollments.keys).union(pending.keys).sorted().map {
                Self.status(user: $0, enrollment: enrollments[$0], pending: pending[$0], now: now)
            }.filter { $0.state != .none }
        }
    }

    /// Records a request that was refused before reaching a store operation.
    package func recordRefusal(
        operation: String, user: String?, reason: String, now: Int64, source: AuditSource
    ) async throws {
        try await writer.write { db in
            try Self.audit(db, operation, user: user, source: source, now: now, result: reason)
        }
    }

    private static func status(
        user: String, enrollment: EnrollmentRecord?, pending: PendingEnrollmentRecord?, now: Int64
    ) -> EnrollmentStatus {
        let livePending = pending.flatMap { $0.expiresAt > now ? $0 : nil }
        if let enrollment, enrollment.state == EnrollmentState.active.rawValue {
            return EnrollmentStatus(
                user: user, state: .active, expiresAt: livePending?.expiresAt, activatedAt: enrollment.activatedAt,
                lastSuccessAt: enrollment.lastSuccessAt, failures: enrollment.failures)
        }
        if let livePending {
            return EnrollmentStatus(
                user: user, state: .pending, expiresAt: livePending.expiresAt, failures: livePending.failures)
        }
        if enrollment != nil {
            return EnrollmentStatus(user: user, state: .revoked, activatedAt: enrollment?.activatedAt)
        }
        return EnrollmentStatus(user: user, state: .none)
    }

    private static func purgeLapsedEnrollments(_ db: Database, now: Int64) throws {
        try PendingEnrollmentRecord.filter(Column("expires_at") <= now).deleteAll(db)
    }

    private static func audit(
        _ db: Database, _ event: String, user: String?, source: AuditSource, now: Int64, result: String
    ) throws {
        try AuditRecord(
            time: now, event: event, user: user, service: source.context.service, rhost: source.context.rhost,
            tty: source.context.tty, callerUID: Int64(source.caller.uid), callerPID: Int64(source.caller.pid),
            result: result
        ).insert(db)
    }
}

extension EnrollmentRecord {
    func parameters() throws -> OTPParameters { try OTPParameters(stored: algorithm, digits: digits, period: period) }
}

extension PendingEnrollmentRecord {
    func parameters() throws -> OTPParameters { try OTPParameters(stored: algorithm, digits: digits, period: period) }
}

extension OTPParameters {
    struct StoredValueError: Error, CustomStringConvertible {
        let description: String
    }

    init(stored algorithm: String, digits: Int, period: Int) throws {
        guard let algorithm = OTPAlgorithm(rawValue: algorithm), Self.digitRange.contains(digits),
            Self.periodRange.contains(period)
        else { throw StoredValueError(description: "stored OTP parameters are out of range") }
        self.init(algorithm: algorithm, digits: digits, period: period)
    }
}
