import GRDB

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
    }

    /// Removes the secret, recovery codes, grace records and any pending enrollment. Returns
    /// false when there was nothing to revoke.
    package func revoke(user: String, now: Int64, source: AuditSource) async throws -> Bool {
        try await writer.write { db in
            var revoked = try PendingEnrollmentRecord.deleteOne(db, key: user)
            if var row = try EnrollmentRecord.fetchOne(db, key: user), row.state == EnrollmentState.active.rawValue {
                row.state = EnrollmentState.revoked.rawValue
                row.sealedSecret = nil
                row.revokedAt = now
                row.lockedUntil = nil
                try row.update(db)
                revoked = true
            }
            try RecoveryCodeRecord.filter(Column("user") == user).deleteAll(db)
            try GraceRecord.filter(Column("user") == user).deleteAll(db)
            try Self.audit(db, "revoke", user: user, source: source, now: now, result: revoked ? "revoked" : "not-enrolled")
            return revoked
        }
    }

    /// Lifts a lockout and resets the failure count. Returns false when the user has no active
    /// enrollment.
    package func unlock(user: String, now: Int64, source: AuditSource) async throws -> Bool {
        try await writer.write { db in
            guard var row = try EnrollmentRecord.fetchOne(db, key: user), row.state == EnrollmentState.active.rawValue else {
                try Self.audit(db, "unlock", user: user, source: source, now: now, result: "not-enrolled")
                return false
            }
            row.failures = 0
            row.lockedUntil = nil
            row.windowAttempts = 0
            try row.update(db)
            try Self.audit(db, "unlock", user: user, source: source, now: now, result: "unlocked")
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
                    result: row["result"])
            }
        }
    }
}
