import Crypto
import Foundation
import GRDB
import Logging

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
    let groupCommit: GroupCommitWriter
    let sealer: SecretSealer
    /// Keys the recovery-code digests, so a copy of the database alone cannot test guesses.
    let recoveryKey: SymmetricKey
    let window: Int
    let throttle: ThrottlePolicy
    let retention: AuditRetention
    let lockoutObserver: LockoutObserver
    let auditBudget: AuditBudget
    let reserve: SpaceReserve
    let maintenance: MaintenanceClock
    let logger: Logger
    /// For lines a non-root caller's requests can cause.
    let logLimiter: LogLimiter

    package init(
        path: String, keys: StoreKeyring, window: Int = 1, throttle: ThrottlePolicy = ThrottlePolicy(),
        retention: AuditRetention = AuditRetention(), logger: Logger = Logger(label: "totpd.store"),
        logLimiter: LogLimiter? = nil, lockoutObserver: @escaping LockoutObserver = { _, _ in }
    ) throws {
        var configuration = Configuration()
        // `totpd --import-oath` writes from a process of its own while the daemon serves: each
        // waits for the other's transaction instead of failing at once with SQLITE_BUSY.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // Freed pages are zeroed, so a revoked secret's ciphertext does not linger in the file.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        writer = try DatabasePool(path: path, configuration: configuration)
        // DatabasePool sets synchronous=NORMAL on its writer; an accepted step must be on disk
        // before the answer goes out, so a crash cannot make a used code valid again.
        try writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try StoreSchema.migrator.migrate(writer)
        groupCommit = GroupCommitWriter(pool: writer)
        sealer = SecretSealer(keyring: keys)
        recoveryKey = try Self.recoveryKey(writer, keys: keys)
        self.window = window
        self.throttle = throttle
        self.retention = retention
        self.logger = logger
        self.logLimiter = logLimiter ?? LogLimiter(logger: logger)
        self.lockoutObserver = lockoutObserver
        auditBudget = AuditBudget()
        reserve = SpaceReserve(path: (path as NSString).deletingLastPathComponent + "/space-reserve")
        maintenance = MaintenanceClock()
    }

    /// The writer connection's `PRAGMA synchronous` (2 = FULL).
    package func writerSynchronousMode() throws -> Int {
        try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// One write transaction, committed with whatever other writes are waiting (`GroupCommitWriter`).
    /// When the disk is full and the request comes from root (the login stack), the space
    /// reserve is released, if another write has not released it already, and the transaction
    /// tried once more, so root logins go on working on a full disk; other callers get the error.
    func write<T: Sendable>(
        for caller: PeerCredentials, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        do {
            return try await groupCommit.write(body)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            guard caller.isRoot else { throw error }
            if reserve.release() {
                logger.critical("disk full: released the space reserve to keep root logins working", metadata: ["reserve": "\(reserve.path)"])
            }
            return try await groupCommit.write(body)
        }
    }

    /// A short read, run on the calling thread: an indexed lookup in WAL mode never waits for
    /// the writer, and a hop to GRDB's queue and back costs more than the read itself. Long
    /// reads (list, the audit log) use the asynchronous `writer.read`.
    func readNow<T>(_ body: (Database) throws -> T) throws -> T {
        try writer.read(body)
    }

    /// Copies the write-ahead log into the database and truncates it, after a transaction that
    /// removed or replaced a secret: the log would otherwise keep the old pages. The change is
    /// committed already, so a checkpoint that readers hold up is not the request's failure: it
    /// is logged and tried again at the next housekeeping.
    func checkpointRemovingOldPages(for caller: PeerCredentials, now: Int64) async {
        let done = (try? await writer.writeWithoutTransaction { db -> Bool in
            for _ in 0..<10 {
                if (try? db.checkpoint(.truncate)) != nil { return true }
                Thread.sleep(forTimeInterval: 0.005)
            }
            return false
        }) ?? false
        maintenance.checkpointOwed.store(!done, ordering: .releasing)
        if !done {
            logLimiter.log(
                .warning, "could not empty the write-ahead log; removed secrets stay in it until the next try", uid: caller.uid,
                now: now)
        }
    }

    /// One statement, so it reads one consistent state without a transaction of its own.
    package func status(user: String, now: Int64) throws -> EnrollmentStatus {
        try writer.unsafeRead { db in
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT e.state, e.activated_at, e.last_success_at, p.expires_at, t.failures, t.locked_until,
                            (SELECT COUNT(*) FROM recovery_code WHERE user = k.user AND used_at IS NULL)
                        FROM (SELECT ? AS user) AS k
                        LEFT JOIN enrollment AS e ON e.user = k.user
                        LEFT JOIN pending_enrollment AS p ON p.user = k.user
                        LEFT JOIN throttle AS t ON t.user = k.user
                        """), arguments: [user])!
            return Self.status(
                user: user, enrollmentState: row[0], activatedAt: row[1], lastSuccessAt: row[2], pendingExpiresAt: row[3],
                failures: row[4] ?? 0, lockedUntil: row[5], recoveryCodesLeft: row[6], now: now)
        }
    }

    /// Whether `user` is exactly the key of an enrollment, active, pending or revoked.
    static func hasEnrollment(_ db: Database, exactly user: String) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT 1 FROM enrollment WHERE user = ? UNION ALL SELECT 1 FROM pending_enrollment WHERE user = ?"),
            arguments: [user, user]) != nil
    }

    /// The accounts with an enrollment (active, pending or revoked) whose name differs from
    /// `user` in ASCII case only: for names the directory does not know, so that a directory
    /// blind to an account cannot make its enrollment look absent.
    package func enrolledNames(matchingCaseInsensitively user: String) async throws -> [String] {
        try await writer.read { db in
            try String.fetchAll(
                db,
                sql: "SELECT user FROM enrollment WHERE user = ? COLLATE NOCASE UNION SELECT user FROM pending_enrollment WHERE user = ? COLLATE NOCASE",
                arguments: [user, user])
        }
    }

    /// The accounts whose name comes after `afterUser` (nil: from the first), in byte order of
    /// name, as many as `budget` holds: `entry` makes what the caller keeps of each account's
    /// status and says what it costs. The accounts are those with an enrollment, active or
    /// revoked, or a pending one that has not lapsed: exactly those whose state is not `none`.
    /// Keyset paging over the primary keys, read lazily: a page costs the same at the millionth
    /// account as at the first, and no row is read past the last one that fits.
    package func list<Entry: Sendable>(
        afterUser: String?, now: Int64, budget: Int, entry: @escaping @Sendable (EnrollmentStatus) -> (Entry, cost: Int)
    ) async throws -> [Entry] {
        try await writer.read { db in
            // Both halves walk a primary key in order and SQLite merges them, so rows are joined
            // only as they are stepped. Names are never empty (requests and imports refuse
            // them), so "" starts at the first; a pending enrollment alone has no recovery codes.
            let rows = try Row.fetchCursor(
                db.cachedStatement(
                    sql: """
                        SELECT enrollment.user AS user, enrollment.state, enrollment.activated_at, enrollment.last_success_at,
                            pending_enrollment.expires_at, throttle.failures, throttle.locked_until,
                            (SELECT COUNT(*) FROM recovery_code WHERE recovery_code.user = enrollment.user AND used_at IS NULL)
                        FROM enrollment
                            LEFT JOIN pending_enrollment ON pending_enrollment.user = enrollment.user
                            LEFT JOIN throttle ON throttle.user = enrollment.user
                        WHERE enrollment.user > ?1
                        UNION ALL
                        SELECT pending_enrollment.user, NULL, NULL, NULL, pending_enrollment.expires_at, throttle.failures,
                            throttle.locked_until, 0
                        FROM pending_enrollment
                            LEFT JOIN throttle ON throttle.user = pending_enrollment.user
                        WHERE pending_enrollment.user > ?1 AND pending_enrollment.expires_at > ?2
                            AND NOT EXISTS (SELECT 1 FROM enrollment WHERE enrollment.user = pending_enrollment.user)
                        ORDER BY user
                        """),
                arguments: [afterUser ?? "", now])
            var entries: [Entry] = []
            var left = budget
            while let row = try rows.next() {
                let (entry, cost) = entry(
                    Self.status(
                        user: row[0], enrollmentState: row[1], activatedAt: row[2], lastSuccessAt: row[3],
                        pendingExpiresAt: row[4], failures: row[5] ?? 0, lockedUntil: row[6], recoveryCodesLeft: row[7],
                        now: now))
                left -= cost
                guard left >= 0 else { break }
                entries.append(entry)
            }
            return entries
        }
    }

    /// Records a request that was refused before reaching a store operation.
    package func recordRefusal(
        _ event: AuditEvent, user: String?, reason: AccessRefusal, now: Int64, source: AuditSource
    ) async throws {
        // Checked before the transaction, so a suppressed refusal costs no write at all.
        guard auditBudget.admits(source.caller, now: now, reserveHeld: reserve.isHeld) else { return }
        try await write(for: source.caller) { [self] db in
            try insertAudit(db, event, user: user, source: source, now: now, result: .refused(reason))
        }
    }

    /// The one definition of what an account's rows show, from the columns it reads, so that
    /// `list` can select only those (nil: no such row).
    static func status(
        user: String, enrollmentState: String?, activatedAt: Int64?, lastSuccessAt: Int64?, pendingExpiresAt: Int64?,
        failures: Int, lockedUntil: Int64?, recoveryCodesLeft: Int, now: Int64
    ) -> EnrollmentStatus {
        let liveExpiry = pendingExpiresAt.flatMap { $0 > now ? $0 : nil }
        if enrollmentState == EnrollmentState.active.rawValue {
            return EnrollmentStatus(
                user: user, state: .active, expiresAt: liveExpiry, activatedAt: activatedAt, lastSuccessAt: lastSuccessAt,
                failures: failures, lockedUntil: lockedUntil.flatMap { $0 > now ? $0 : nil },
                recoveryCodesLeft: recoveryCodesLeft)
        }
        if let liveExpiry {
            return EnrollmentStatus(user: user, state: .pending, expiresAt: liveExpiry, failures: failures)
        }
        if enrollmentState != nil {
            return EnrollmentStatus(user: user, state: .revoked, activatedAt: activatedAt)
        }
        return EnrollmentStatus(user: user, state: .none)
    }

    /// Deletes pending enrollments whose time is up; true if there were any.
    @discardableResult
    static func purgeLapsedEnrollments(_ db: Database, now: Int64) throws -> Bool {
        try PendingEnrollmentRecord.filter(Column("expires_at") <= now).deleteAll(db) > 0
    }

    /// Writes one audit row. What a non-root caller chose (the account it named, the service,
    /// host and terminal it claims) is cut short, and rows it causes beyond its budget are only
    /// counted (see `AuditBudget`).
    func audit(
        _ db: Database, _ event: AuditEvent, user: String?, source: AuditSource, now: Int64, result: AuditResult
    ) throws {
        if !source.caller.isRoot && !result.recordsCheckedCode {
            guard auditBudget.admits(source.caller, now: now, reserveHeld: reserve.isHeld) else { return }
        }
        try insertAudit(db, event, user: user, source: source, now: now, result: result)
    }

    private func insertAudit(
        _ db: Database, _ event: AuditEvent, user: String?, source: AuditSource, now: Int64, result: AuditResult
    ) throws {
        let caller = source.caller
        let cut: (String?) -> String? = { text in
            caller.isRoot ? text : text.map { AuditBudget.shortened($0) }
        }
        try AuditRecord(
            time: now, event: event.rawValue, user: cut(user), service: cut(source.context.service),
            rhost: cut(source.context.rhost), tty: cut(source.context.tty), callerUID: Int64(caller.uid),
            callerPID: Int64(caller.pid), result: result.text, count: 1
        ).append(db)
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
