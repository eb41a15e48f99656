import GRDB

/// The last success of a user through a PAM service from one origin (remote host, else tty).
struct GraceRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "grace"

    var user: String
    var service: String
    var origin: String
    var succeededAt: Int64

    enum CodingKeys: String, CodingKey {
        case user, service, origin
        case succeededAt = "succeeded_at"
    }
}

extension GraceRecord {
    /// Records the success, replacing an earlier one from the same service and origin.
    func save(_ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO grace (user, service, origin, succeeded_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (user, service, origin) DO UPDATE SET succeeded_at = excluded.succeeded_at
                """
        ).execute(arguments: [user, service, origin, succeededAt])
    }
}
