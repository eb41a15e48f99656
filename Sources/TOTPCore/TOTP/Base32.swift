/// RFC 4648 base32, the alphabet authenticator apps expect for TOTP secrets.
package enum Base32 {
    package struct DecodingError: Error, CustomStringConvertible {
        package let description: String
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    package static func encode(_ bytes: [UInt8]) -> String {
        var output = [UInt8]()
        output.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                output.append(alphabet[Int((buffer >> UInt32(bits)) & 0x1F)])
            }
        }
        if bits > 0 {
            output.append(alphabet[Int((buffer << UInt32(5 - bits)) & 0x1F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes case-insensitively, with or without `=` padding. Spaces are not accepted:
    /// callers that show grouped secrets strip them first.
    package static func decode(_ text: String) throws -> [UInt8] {
        var symbols = Array(text.utf8)
        while symbols.last == UInt8(ascii: "=") { symbols.removeLast() }
        let remainder = symbols.count % 8
        guard [0, 2, 4, 5, 7].contains(remainder) else {
            throw DecodingError(description: "base32 text has an impossible length")
        }
        var output = [UInt8]()
        output.reserveCapacity(symbols.count * 5 / 8)
        var buffer: UInt32 = 0
        var bits = 0
        for symbol in symbols {
            guard let value = Self.value(of: symbol) else {
                throw DecodingError(description: "base32 text contains a character outside A-Z and 2-7")
            }
            buffer = (buffer << 5) | UInt32(value)
            bits += 5
            if bits >= 8 {
                bits -= 8
                output.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        // Leftover bits must be zero, otherwise the text is not the encoding of any byte string.
        guard buffer & ((1 << UInt32(bits)) - 1) == 0 else {
            throw DecodingError(description: "base32 text has non-zero trailing bits")
        }
        return output
    }

    private static func value(of symbol: UInt8) -> UInt8? {
        switch symbol {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): symbol - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): symbol - UInt8(ascii: "a")
        case UInt8(ascii: "2")...UInt8(ascii: "7"): symbol - UInt8(ascii: "2") + 26
        default: nil
        }
    }
}
