import GRDB

#if canImport(Glibc)
import Glibc
#endif

extension Store {
    /// One audit row, for `totpctl log`.
    package struct AuditEntry: Sendable, Equatable {
        package var id: Int64
        package var time: Int64
        package var event: String
        package var user: String?
        package var service: String?
        package var rhost: String?
        package var tty: String?
        package var callerUID: Int64
        package var callerPID: Int64
        package var result: String
        package var count: Int
    }

    /// The accounts by state, for the metrics: one pass over each table, on a reader.
    package func accountFigures(now: Int64) async throws -> DaemonMetrics.Accounts {
        try await writer.read { db in
            var figures = DaemonMetrics.Accounts()
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) FROM enrollment GROUP BY state") {
                if row[0] == EnrollmentState.active.rawValue { figures.active = row[1] } else { figures.revoked = row[1] }
            }
            figures.pending = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM pending_enrollment WHERE expires_at > ?", arguments: [now]) ?? 0
            figures.locked = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM throttle WHERE locked_until > ?", arguments: [now]) ?? 0
            return figures
        }
    }

    /// What an admin wants after taking an account's second factor away.
    package enum Removal: Sendable {
        /// Lost phone, compromised session: no new enrollment until an admin allows it.
        case revoke
        /// A fresh start: the next enrollment, at login or with `totpctl enroll`, is open.
        case reset
    }

    /// Removes the secret, recovery codes, grace records and any pending enrollment, and leaves
    /// the account revoked (or, for `reset`, with no record at all). `existingAccount`: the
    /// directory knows the account, so a revoke blocks it even if it never enrolled. Returns
    /// false when there was nothing to do.
    package func remove(
        _ removal: Removal, user: String, existingAccount: Bool = true, now: Int64, source: AuditSource
    ) async throws -> Bool {
        let removed = try await write(for: source.caller) { [self] db -> Bool in
            let pending = try PendingEnrollmentRecord.fetch(db, user: user)
            try pending?.delete(db)
            var removed = pending != nil
            let row = try EnrollmentRecord.fetch(db, user: user)
            switch removal {
            case .revoke:
                // Whatever there was, active or only started, the account is left revoked: no
                // new enrollment of its own until a reset.
                guard row?.state == EnrollmentState.active.rawValue || (row == nil && (pending != nil || existingAccount))
                else { break }
                let parameters = row.map { ($0.algorithm, $0.digits, $0.period) }
                    ?? pending.map { ($0.algorithm, $0.digits, $0.period) }
                    ?? (OTPParameters.default.algorithm.rawValue, OTPParameters.default.digits, OTPParameters.default.period)
                try EnrollmentRecord(
                    user: user, state: EnrollmentState.revoked.rawValue, sealedSecret: nil, algorithm: parameters.0,
                    digits: parameters.1, period: parameters.2, activatedAt: row?.activatedAt, revokedAt: now,
                    lastStep: row?.lastStep, lastSuccessAt: row?.lastSuccessAt, drift: row?.drift ?? 0
                ).save(db)
                removed = true
            case .reset:
                if let row {
                    try row.delete(db)
                    removed = true
                }
                try ThrottleRecord.deleteOne(db, key: user)
            }
            try RecoveryCodeRecord.filter(Column("user") == user).deleteAll(db)
            try GraceRecord.filter(Column("user") == user).deleteAll(db)
            let event: AuditEvent = removal == .revoke ? .revoke : .reset
            let result: AuditResult = !removed ? .notEnrolled : removal == .revoke ? .revoked : .reset
            try audit(db, event, user: user, source: source, now: now, result: result)
            return removed
        }
        if removed { await checkpointRemovingOldPages(for: source.caller, now: now) }
        return removed
    }

    /// Lifts a lockout and resets the failure count. Returns false when the user has no active
    /// enrollment.
    package func unlock(user: String, now: Int64, source: AuditSource) async throws -> Bool {
        try await write(for: source.caller) { [self] db in
            guard let row = try EnrollmentRecord.fetch(db, user: user), row.state == EnrollmentState.active.rawValue else {
                try audit(db, .unlock, user: user, source: source, now: now, result: .notEnrolled)
                return false
            }
            try ThrottleRecord(user: user).save(db)
            try audit(db, .unlock, user: user, source: source, now: now, result: .unlocked)
            return true
        }
    }

    /// Audit rows after `afterID`, oldest first, optionally for one user and from a time on.
    package func auditLog(user: String?, since: Int64?, afterID: Int64, limit: Int) async throws -> [AuditEntry] {
        try await writer.read { db in
            var request = AuditRecord.select(AuditRecord.databaseSelection + [Column("id")]).filter(Column("id") > afterID)
            if let user { request = request.filter(Column("user") == user) }
            if let since { request = request.filter(Column("time") >= since) }
            return try Row.fetchAll(db, request.order(Column("id")).limit(limit)).map { row in
                AuditEntry(
                    id: row["id"], time: row["time"], event: row["event"], user: row["user"], service: row["service"],
                    rhost: row["rhost"], tty: row["tty"], callerUID: row["caller_uid"], callerPID: row["caller_pid"],
                    result: row["result"], count: row["count"])
            }
        }
    }

    /// Housekeeping, at most once a minute (any request may trigger it): audit retention, the
    /// rows that summarize suppressed audit events, lapsed enrollments (their secrets leave the
    /// log too), and the space reserve. `force` runs it now whatever the time.
    package func maintain(now: Int64, force: Bool = false) async throws {
        guard maintenance.claim(now: now) || force else { return }
        reserve.replenish()
        let summaries = auditBudget.takeSummaries(now: now, all: force)
        let lapsed = try await writer.write { [retention] db -> Bool in
            for summary in summaries {
                try AuditRecord(
                    time: summary.start, event: AuditEvent.suppressed.rawValue, user: nil, service: nil, rhost: nil, tty: nil,
                    callerUID: Int64(summary.key), callerPID: 0, result: AuditResult.auditRowsSuppressed.text,
                    count: summary.count
                ).insert(db)
            }
            try db.execute(sql: "DELETE FROM audit WHERE time < ?", arguments: [now - retention.maxAge])
            try db.execute(
                sql: "DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?", arguments: [retention.maxRows])
            return try Self.purgeLapsedEnrollments(db, now: now)
        }
        if lapsed || maintenance.checkpointOwed.load(ordering: .acquiring) {
            await checkpointRemovingOldPages(for: PeerCredentials(uid: 0, gid: 0, pid: getpid()), now: now)
        }
    }
}
