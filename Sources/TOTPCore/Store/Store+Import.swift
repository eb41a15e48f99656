import GRDB

extension Store {
    package struct ImportError: Error, CustomStringConvertible {
        package let description: String
    }

    /// Activates every entry in one transaction, so a large migration (1M accounts) costs one
    /// commit; nothing is imported when any account already has an enrollment, active, pending or
    /// revoked, since replacing one is a decision for `totpctl enroll`, one account at a time.
    /// One audit row records the import and how many accounts it enrolled.
    ///
    /// An import runs in a process of its own while the daemon may serve, and may rotate the
    /// key: the key files are read again inside the transaction, which the daemon's switch to
    /// a new key cannot overlap, so the secrets are sealed with the key the rotation will keep.
    package func importEnrollments(_ entries: [OATHUsersFile.Entry], now: Int64, source: AuditSource) async throws {
        try await writer.write { [self] db in
            try sealer.keyring.reload()
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO enrollment (user, state, sealed_secret, algorithm, digits, period, activated_at, last_step, drift)
                    VALUES (?, 'active', ?, ?, ?, ?, ?, ?, 0)
                    """)
            for entry in entries {
                guard try !Self.hasEnrollment(db, exactly: entry.user) else {
                    throw ImportError(description: "\(QuotedText.quoted(entry.user)) already has an enrollment; nothing was imported")
                }
                try insert.execute(arguments: [
                    entry.user, try sealer.seal(entry.secret, user: entry.user), entry.parameters.algorithm.rawValue,
                    entry.parameters.digits, entry.parameters.period, now, entry.lastStep,
                ])
            }
            let row = AuditRecord(
                time: now, event: AuditEvent.importOATH.rawValue, user: nil, service: nil, rhost: nil, tty: nil,
                callerUID: Int64(source.caller.uid), callerPID: Int64(source.caller.pid), result: AuditResult.activated.text,
                count: entries.count)
            try row.insert(db)
        }
    }
}
