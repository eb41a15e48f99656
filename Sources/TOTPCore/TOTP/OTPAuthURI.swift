/// The `otpauth://totp/...` URI that authenticator apps import from a QR code
/// (the de-facto Key Uri Format).
package struct OTPAuthURI: Sendable, Equatable {
    package var issuer: String
    package var account: String
    package var secret: [UInt8]
    package var parameters: OTPParameters

    package init(issuer: String, account: String, secret: [UInt8], parameters: OTPParameters) {
        self.issuer = issuer
        self.account = account
        self.secret = secret
        self.parameters = parameters
    }

    package var string: String {
        let label = Self.percentEncode(issuer) + ":" + Self.percentEncode(account)
        var query = ["secret=" + Base32.encode(secret), "issuer=" + Self.percentEncode(issuer)]
        // Defaults are left out: some apps reject parameters they do not expect.
        if parameters.algorithm != OTPParameters.default.algorithm {
            query.append("algorithm=" + parameters.algorithm.rawValue)
        }
        if parameters.digits != OTPParameters.default.digits {
            query.append("digits=\(parameters.digits)")
        }
        if parameters.period != OTPParameters.default.period {
            query.append("period=\(parameters.period)")
        }
        return "otpauth://totp/" + label + "?" + query.joined(separator: "&")
    }

    /// Everything but RFC 3986 unreserved characters is escaped, so a ':' or '&' in a name
    /// cannot change the label or the query.
    static func percentEncode(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                output += "%"
                output.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                output.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0F)]))
            }
        }
        return output
    }
}
