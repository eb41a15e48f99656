import Foundation
import GRDB

/// A secret that was handed out but not yet proven with a code; it lapses at `expiresAt`.
struct PendingEnrollmentRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "pending_enrollment"

    var user: String
    var sealedSecret: Data
    var algorithm: String
    var digits: Int
    var period: Int
    var createdAt: Int64
    var expiresAt: Int64
    var failures: Int

    enum CodingKeys: String, CodingKey {
        case user, algorithm, digits, period, failures
        case sealedSecret = "sealed_secret"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
    }
}
