import Testing

@testable import TOTPCore

@Suite struct Base32Tests {
    // RFC 4648 §10.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"), ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ]

    @Test func encodesRFC4648Vectors() {
        for (plain, encoded) in Self.vectors {
            #expect(Base32.encode(Array(plain.utf8)) == encoded)
        }
    }

    @Test func decodesWithAndWithoutPaddingInAnyCase() throws {
        for (plain, encoded) in Self.vectors {
            let padded = encoded + String(repeating: "=", count: (8 - encoded.count % 8) % 8)
            for text in [encoded, padded, encoded.lowercased()] {
                #expect(try Base32.decode(text) == Array(plain.utf8))
            }
        }
    }

    @Test(arguments: ["MZXW6YQ1", "MZXW 6YQ", "MZX", "M", "MZXW6YTBO", "MZ=XQ", "MZ-XQ", "MZXW6YR"])
    func rejectsInvalidText(_ text: String) {
        #expect(throws: Base32.DecodingError.self) { try Base32.decode(text) }
    }

    @Test func roundTripsRandomBytes() throws {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(try Base32.decode(Base32.encode(bytes)) == bytes)
        }
    }
}
