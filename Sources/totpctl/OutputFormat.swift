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
        var lockedUntil: String?
        var recoveryCodesLeft: Int

        init(_ status: EnrollmentStatus) {
            user = status.user
            state = status.state.rawValue
            expires = OutputFormat.timestamp(status.expiresAt)
            activated = OutputFormat.timestamp(status.activatedAt)
            lastSuccess = OutputFormat.timestamp(status.lastSuccessAt)
            failures = status.failures
            lockedUntil = status.lockedUntil.map { $0 == .max ? "until unlocked" : OutputFormat.timestamp($0)! }
            recoveryCodesLeft = status.recoveryCodesLeft
        }

        enum CodingKeys: String, CodingKey {
            case user, state, expires, activated, failures
            case lastSuccess = "last_success"
            case lockedUntil = "locked_until"
            case recoveryCodesLeft = "recovery_codes_left"
        }
    }

    /// Cells hold what callers chose (account names, remote hosts): quoted and escaped like log
    /// values, so none can pass for more columns or reach the terminal as control characters.
    static func table(_ rows: [[String]]) -> String {
        let rows = rows.prefix(1) + rows.dropFirst().map { $0.map(QuotedText.quoted) }
        guard let header = rows.first else { return "" }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { tableLine($0, widths: widths) }.joined(separator: "\n")
    }

    /// One line of a table whose column widths are known (in characters); cells already quoted.
    /// Padded by characters, as the widths are counted (NSString's padding counts UTF-16 units,
    /// and cut names with characters beyond them short).
    static func tableLine(_ cells: [String], widths: [Int]) -> String {
        cells.enumerated().map { index, cell in
            index == cells.count - 1 ? cell : cell + String(repeating: " ", count: max(widths[index] - cell.count, 0))
        }.joined(separator: "  ")
    }

    /// A base32 secret in groups of four, easier to type (apps ignore the spaces).
    static func grouped(_ secret: String) -> String {
        stride(from: 0, to: secret.count, by: 4).map { offset in
            let start = secret.index(secret.startIndex, offsetBy: offset)
            return String(secret[start..<(secret.index(start, offsetBy: 4, limitedBy: secret.endIndex) ?? secret.endIndex)])
        }.joined(separator: " ")
    }

    /// Recovery codes, shown once, with what to do with them.
    static func recoveryCodes(_ codes: [String]) -> String {
        """
        Recovery codes (each works once in place of a code, for when your phone is lost).
        They are shown only now: store them offline, e.g. printed or in a password manager.
        \(codes.map { "  " + $0 }.joined(separator: "\n"))
        """
    }
}
