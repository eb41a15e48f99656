import Crypto
import Foundation
import GRDB

/// The only code that touches the database. Each operation is one transaction that keeps the
/// invariants (one active secret per user, steps only move forward, every checked code counted)
/// and writes its own audit row in that same transaction, so an answer is never sent for a
/// change that was not stored.
package struct Store: Sendable {
    package enum VerifyOutcome: Sendable, Equatable {
        case accepted
        case rejected
        case replayed
        case notEnrolled
        /// Too many attempts; nil: until an admin unlocks.
        case locked(retryAfter: Int64?)
    }

    /// Told of every lockout after its transaction committed: user, and seconds (nil: until unlock).
    package typealias LockoutObserver = @Sendable (_ user: String, _ seconds: Int64?) -> Void

    let writer: DatabasePool
    let sealer: SecretSealer
    let window: Int
    let throttle: ThrottlePolicy
    let lockoutObserver: LockoutObserver

    package init(
        path: String, key: SymmetricKey, window: Int = 1, throttle: ThrottlePolicy = ThrottlePolicy(),
        lockoutObserver: @escaping LockoutObserver = { _, _ in }
    ) throws {
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
        self.window = window
        self.throttle = throttle
        self.lockoutObserver = lockoutObserver
    }

    /// The writer connection's `PRAGMA synchronous` (2 = FULL).
    package func writerSynchronousMode() throws -> Int {
        try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    package func status(user: String, now: Int64) async throws -> EnrollmentStatus {
        try await writer.read { db in
            try Self.status(
                user: user, enrollment: EnrollmentRecord.fetchOne(db, key: user),
                pending: PendingEnrollmentRecord.fetchOne(db, key: user),
                recoveryCodesLeft: RecoveryCodeRecord.filter(Column("user") == user && Column("used_at") == nil).fetchCount(db),
                now: now)
        }
    }

    package func list(now: Int64) async throws -> [EnrollmentStatus] {
        try await writer.read { db in
            let enrollments = Dictionary(uniqueKeysWithValues: try EnrollmentRecord.fetchAll(db).map { ($0.user, $0) })
            let pending = Dictionary(uniqueKeysWithValues: try PendingEnrollmentRecord.fetchAll(db).map { ($0.user, $0) })
            let codesLeft = Dictionary(
                try Row.fetchAll(db, sql: "SELECT user, COUNT(*) FROM recovery_code WHERE used_at IS NULL GROUP BY user")
                    .map { ($0[0] as String, $0[1] as Int) }, uniquingKeysWith: +)
            return Set(enrollments.keys).union(pending.keys).sorted().map {
                Self.status(
                    user: $0, enrollment: enrollments[$0], pending: pending[$0], recoveryCodesLeft: codesLeft[$0] ?? 0,
                    now: now)
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

    static func status(
        user: String, enrollment: EnrollmentRecord?, pending: PendingEnrollmentRecord?, recoveryCodesLeft: Int,
        now: Int64
    ) -> EnrollmentStatus {
        let livePending = pending.flatMap { $0.expiresAt > now ? $0 : nil }
        if let enrollment, enrollment.state == EnrollmentState.active.rawValue {
            let locked = enrollment.lockedUntil.flatMap { $0 > now ? $0 : nil }
            return EnrollmentStatus(
                user: user, state: .active, expiresAt: livePending?.expiresAt, activatedAt: enrollment.activatedAt,
                lastSuccessAt: enrollment.lastSuccessAt, failures: enrollment.failures, lockedUntil: locked,
                recoveryCodesLeft: recoveryCodesLeft)
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

    static func purgeLapsedEnrollments(_ db: Database, now: Int64) throws {
        try PendingEnrollmentRecord.filter(Column("expires_at") <= now).deleteAll(db)
    }

    static func audit(
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
