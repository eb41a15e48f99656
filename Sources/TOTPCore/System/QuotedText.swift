/// A value a caller chose (an account name, a remote host), made safe to print among others in
/// a log line or a table: quoted when it holds whitespace, `=`, `"` or a backslash, and escaped
/// inside the quotes (a backslash before `"` and backslash, and `\n`, `\t` or `\u{XXXX}` for
/// control and format characters, such as bidirectional overrides and line separators). Plain
/// values are left as they are.
package enum QuotedText {
    package static func quoted(_ value: String) -> String {
        // Most values are printable ASCII that needs nothing, told apart without the Unicode
        // property lookups below (a million account names in `totpctl list`).
        let plain = value.utf8.allSatisfy {
            $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "=")
        }
        if plain && !value.isEmpty { return value }
        var needsQuotes = value.isEmpty
        var escaped = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\", "\"":
                escaped += "\\" + String(scalar)
                needsQuotes = true
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            case _ where isUnprintable(scalar):
                escaped += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            case "=", _ where scalar.properties.isWhitespace:
                escaped.unicodeScalars.append(scalar)
                needsQuotes = true
            default:
                escaped.unicodeScalars.append(scalar)
            }
        }
        return needsQuotes || escaped != value ? "\"" + escaped + "\"" : value
    }

    /// Control characters, and format characters such as bidirectional overrides and line
    /// separators, which could make a line read differently from what it holds.
    package static func isUnprintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
