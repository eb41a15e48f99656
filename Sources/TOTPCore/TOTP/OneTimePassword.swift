/// HOTP (RFC 4226) and TOTP (RFC 6238) code generation.
package enum OneTimePassword {
    /// RFC 4226 §5.3: HMAC of the big-endian counter, dynamic truncation, modulo 10^digits.
    package static func hotp(
        secret: [UInt8], counter: UInt64, digits: Int, algorithm: OTPAlgorithm
    ) -> String {
        let message = (0..<8).map { UInt8(truncatingIfNeeded: counter >> (56 - 8 * UInt64($0))) }
        let mac = algorithm.mac(key: secret, message: message)
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let truncated =
            (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16)
            | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let value = String(truncated % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }

    /// The TOTP time step containing `unixTime` (RFC 6238 §4.2, T0 = 0).
    package static func step(at unixTime: Int64, period: Int) -> UInt64 {
        UInt64(max(unixTime, 0)) / UInt64(period)
    }

    package static func totp(secret: [UInt8], step: UInt64, parameters: OTPParameters) -> String {
        hotp(secret: secret, counter: step, digits: parameters.digits, algorithm: parameters.algorithm)
    }

    /// Compares without an early exit, so the time taken does not tell how many leading
    /// characters of a guess were right.
    package static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        constantTimeEqual(Array(lhs.utf8), Array(rhs.utf8))
    }

    package static func constantTimeEqual<A: Collection<UInt8>, B: Collection<UInt8>>(_ lhs: A, _ rhs: B) -> Bool {
        let a = Array(lhs)
        let b = Array(rhs)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
