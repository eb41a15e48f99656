import GRDB

/// A record keyed by account name, read and written through statements compiled once per
/// connection: GRDB's query interface compiles a fresh statement on every call, which was most
/// of a verification's database time.
protocol UserKeyedRecord: FetchableRecord, PersistableRecord {
    /// The columns `save(_:)` writes, in order, after `user`.
    static var valueColumns: [String] { get }
    var user: String { get }
    var valueArguments: StatementArguments { get }
}

extension UserKeyedRecord {
    static func fetch(_ db: Database, user: String) throws -> Self? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM \(databaseTableName) WHERE user = ?"), arguments: [user])
    }

    /// Inserts the row, or replaces the values of the existing one.
    func save(_ db: Database) throws {
        let columns = Self.valueColumns
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO \(Self.databaseTableName) (user, \(columns.joined(separator: ", ")))
                VALUES (?\(String(repeating: ", ?", count: columns.count)))
                ON CONFLICT (user) DO UPDATE SET \(columns.map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
                """)
        try statement.execute(arguments: [user] + valueArguments)
    }
}

// Rows are decoded by column name here rather than through Codable, whose decoder costs more
// than the query on the verification path.

extension EnrollmentRecord: UserKeyedRecord {
    init(row: Row) {
        self.init(
            user: row["user"], state: row["state"], sealedSecret: row["sealed_secret"], algorithm: row["algorithm"],
            digits: row["digits"], period: row["period"], activatedAt: row["activated_at"], revokedAt: row["revoked_at"],
            lastStep: row["last_step"], lastSuccessAt: row["last_success_at"], drift: row["drift"])
    }

    static let valueColumns = ["state", "sealed_secret", "algorithm", "digits", "period", "activated_at", "revoked_at", "last_step", "last_success_at", "drift"]
    var valueArguments: StatementArguments {
        [state, sealedSecret, algorithm, digits, period, activatedAt, revokedAt, lastStep, lastSuccessAt, drift]
    }
}

extension ThrottleRecord: UserKeyedRecord {
    init(row: Row) {
        self.init(
            user: row["user"], windowStart: row["window_start"], windowAttempts: row["window_attempts"], failures: row["failures"],
            lockedUntil: row["locked_until"])
    }

    static let valueColumns = ["window_start", "window_attempts", "failures", "locked_until"]
    var valueArguments: StatementArguments { [windowStart, windowAttempts, failures, lockedUntil] }
}

extension PendingEnrollmentRecord: UserKeyedRecord {
    init(row: Row) {
        self.init(
            user: row["user"], sealedSecret: row["sealed_secret"], algorithm: row["algorithm"], digits: row["digits"],
            period: row["period"], createdAt: row["created_at"], expiresAt: row["expires_at"], failures: row["failures"])
    }

    static let valueColumns = ["sealed_secret", "algorithm", "digits", "period", "created_at", "expires_at", "failures"]
    var valueArguments: StatementArguments { [sealedSecret, algorithm, digits, period, createdAt, expiresAt, failures] }
}
