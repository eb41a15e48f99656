import GRDB

/// One audit row. Never holds a code or a secret.
struct AuditRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "audit"

    var time: Int64
    var event: String
    var user: String?
    var service: String?
    var rhost: String?
    var tty: String?
    var callerUID: Int64
    var callerPID: Int64
    var result: String
    /// Events this row stands for: 1, or for a `suppressed` row the rows not written.
    var count: Int

    enum CodingKeys: String, CodingKey {
        case time, event, user, service, rhost, tty, result, count
        case callerUID = "caller_uid"
        case callerPID = "caller_pid"
    }
}

extension AuditRecord {
    /// Appends the row through a statement compiled once per connection: every checked code
    /// writes one.
    func append(_ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO audit (time, event, user, service, rhost, tty, caller_uid, caller_pid, result, count)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [time, event, user, service, rhost, tty, callerUID, callerPID, result, count])
    }
}
