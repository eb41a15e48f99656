import Foundation
import TOTPCore

/// Shared rendering of enrollment data for people and for scripts.
enum OutputFormat {
    static func timestamp(_ unixTime: Int64?) -> String? {
        unixTime.map { Date(timeIntervalSince1970: TimeInterval($0)).ISO8601Format() }
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    struct StatusJSON: Encodable {
        var user: String
        var state: String
        var expires: String?
        var activated: String?
        var lastSuccess: String?
        var failures: Int

        init(_ status: EnrollmentStatus) {
            user = status.user
            state = status.state.rawValue
            expires = OutputFormat.timestamp(status.expiresAt)
            activated = OutputFormat.timestamp(status.activatedAt)
            lastSuccess = OutputFormat.timestamp(status.lastSuccessAt)
            failures = status.failures
        }

        enum CodingKeys: String, CodingKey {
            case user, state, expires, activated, failures
            case lastSuccess = "last_success"
        }
    }

    static func table(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

extension Response {
    func string(_ tag: FieldTag) -> String? { fields.first { $0.tag == tag.rawValue }?.stringValue }
    func u64(_ tag: FieldTag) -> UInt64? { fields.first { $0.tag == tag.rawValue }?.u64Value }
}
