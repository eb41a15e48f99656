import Foundation
import GRDB

/// One single-use recovery code, stored as a keyed digest (`RecoveryCode.digest`); the code itself is shown once.
struct RecoveryCodeRecord: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "recovery_code"

    var id: Int64?
    var user: String
    var digest: Data
    var createdAt: Int64
    var usedAt: Int64?

    enum CodingKeys: String, CodingKey {
        case id, user, digest
        case createdAt = "created_at"
        case usedAt = "used_at"
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
