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
