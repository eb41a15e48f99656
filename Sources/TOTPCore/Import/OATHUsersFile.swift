import Foundation

/// The users file of pam_oath (`usersfile=`, usually /etc/users.oath), read for `totpd
/// --import-oath`. A line is `TYPE USER PIN HEXSECRET [COUNTER [LASTOTP [TIME]]]`; totpd takes
/// the TOTP types (`HOTP/T30`, `HOTP/T60/8`, ...) and refuses counter-based HOTP and PINs,
/// which it has no equivalent for, rather than import an account weaker than before.
package struct OATHUsersFile {
    package struct Entry: Sendable {
        package var user: String
        package var secret: [UInt8]
        package var parameters: OTPParameters
        /// The step of the last code pam_oath accepted, so it stays used after the move.
        package var lastStep: Int64?
    }

    package struct LineError: Error, CustomStringConvertible {
        package let line: Int
        package let problem: String
        package var description: String { "line \(line): \(problem)" }
    }

    package let entries: [Entry]

    package init(contents: String) throws(LineError) {
        var entries: [Entry] = []
        var seen = Set<String>()
        var number = 0
        // isNewline: a file saved with CRLF line ends (one Character in Swift) reads the same.
        for line in contents.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            number += 1
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let type = fields.first, !type.hasPrefix("#") else { continue }
            let entry = try Self.entry(fields, line: number)
            guard seen.insert(entry.user).inserted else {
                throw LineError(line: number, problem: "\(QuotedText.quoted(entry.user)) appears twice")
            }
            entries.append(entry)
        }
        self.entries = entries
    }

    private static func entry(_ fields: [Substring], line: Int) throws(LineError) -> Entry {
        guard fields.count >= 4, fields.count <= 7 else {
            throw LineError(line: line, problem: "expected TYPE USER PIN SECRET [COUNTER [LASTOTP [TIME]]]")
        }
        let parameters = try totpParameters(fields[0], line: line)
        let user = String(fields[1])
        // What a login could never send as USER (the wire's rule) could never log in either.
        guard user.utf8.count <= FieldTag.user.maxLength,
            !user.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw LineError(line: line, problem: "\(QuotedText.quoted(user)) is not an account name a login can send (over \(FieldTag.user.maxLength) bytes, or control characters)")
        }
        guard fields[2] == "-" else {
            throw LineError(line: line, problem: "\(QuotedText.quoted(user)) has a PIN, which totpd cannot keep; remove it first")
        }
        guard let secret = hexBytes(fields[3]), secret.count >= 10 else {
            throw LineError(line: line, problem: "the secret (fourth field) is not hex of at least 10 bytes")
        }
        var lastStep: Int64?
        if fields.count == 7 {
            guard let used = Self.time(fields[6]) else {
                throw LineError(line: line, problem: "the last-use time of \(QuotedText.quoted(user)) is not a time")
            }
            lastStep = used / Int64(parameters.period)
        }
        return Entry(user: user, secret: secret, parameters: parameters, lastStep: lastStep)
    }

    /// `HOTP/T<period>[/<digits>]`; plain `HOTP` counts events, not time.
    private static func totpParameters(_ type: Substring, line: Int) throws(LineError) -> OTPParameters {
        let parts = type.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "HOTP", parts[1].hasPrefix("T") else {
            // Only a field that looks like a type is repeated: in a line with its fields out of
            // order the first one may be the secret.
            guard type.hasPrefix("HOTP") else {
                throw LineError(line: line, problem: "the first field is not an OATH type (HOTP/T30...)")
            }
            throw LineError(line: line, problem: "type \(QuotedText.quoted(String(type))) is not time-based (HOTP/T30...); totpd imports TOTP only")
        }
        guard parts.count <= 3, let period = Int(parts[1].dropFirst()), OTPParameters.periodRange.contains(period),
            let digits = parts.count == 3 ? Int(parts[2]) : 6, OTPParameters.digitRange.contains(digits)
        else { throw LineError(line: line, problem: "type \(QuotedText.quoted(String(type))) has an unsupported period or digit count") }
        return OTPParameters(algorithm: .sha1, digits: digits, period: period)
    }

    private static func hexBytes(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// pam_oath writes times as `2026-12-01T10:00:00L` (local time, the L is literal).
    private static func time(_ text: Substring) -> Int64? {
        var digits = text
        if digits.last == "L" { digits = digits.dropLast() }
        let parts = digits.split(whereSeparator: { "-T:".contains($0) }).map { Int32($0) }
        guard digits.count == 19, parts.count == 6, !parts.contains(nil) else { return nil }
        var fields = tm()
        fields.tm_year = parts[0]! - 1900
        fields.tm_mon = parts[1]! - 1
        fields.tm_mday = parts[2]!
        fields.tm_hour = parts[3]!
        fields.tm_min = parts[4]!
        fields.tm_sec = parts[5]!
        fields.tm_isdst = -1
        let seconds = mktime(&fields)
        return seconds < 0 ? nil : Int64(seconds)
    }
}
