import Foundation
import GRDB

/// The `enrollment` row of one account: its active secret, or the fact that it was revoked.
struct EnrollmentRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "enrollment"

    var user: String
    var state: String
    var sealedSecret: Data?
    var algorithm: String
    var digits: Int
    var period: Int
    var activatedAt: Int64?
    var revokedAt: Int64?
    var lastStep: Int64?
    var lastSuccessAt: Int64?
    /// Steps between the server's clock and the user's authenticator, learned on success.
    var drift: Int64 = 0

    enum CodingKeys: String, CodingKey {
        case user, state, algorithm, digits, period, drift
        case sealedSecret = "sealed_secret"
        case activatedAt = "activated_at"
        case revokedAt = "revoked_at"
        case lastStep = "last_step"
        case lastSuccessAt = "last_success_at"
    }
}
