import Testing

@testable import TOTPCore

@Suite struct OneTimePasswordTests {
    static let rfcSecret = Array("12345678901234567890".utf8)

    @Test func matchesRFC4226AppendixD() {
        let expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
        for (counter, code) in expected.enumerated() {
            #expect(OneTimePassword.hotp(secret: Self.rfcSecret, counter: UInt64(counter), digits: 6, algorithm: .sha1) == code)
        }
    }

    @Test func matchesRFC6238AppendixB() {
        let secrets: [OTPAlgorithm: [UInt8]] = [
            .sha1: Self.rfcSecret,
            .sha256: Array("12345678901234567890123456789012".utf8),
            .sha512: Array("1234567890123456789012345678901234567890123456789012345678901234".utf8),
        ]
        let table: [(Int64, [OTPAlgorithm: String])] = [
            (59, [.sha1: "94287082", .sha256: "46119246", .sha512: "90693936"]),
            (1_111_111_109, [.sha1: "07081804", .sha256: "68084774", .sha512: "25091201"]),
            (1_111_111_111, [.sha1: "14050471", .sha256: "67062674", .sha512: "99943326"]),
            (1_234_567_890, [.sha1: "89005924", .sha256: "91819424", .sha512: "93441116"]),
            (2_000_000_000, [.sha1: "69279037", .sha256: "90698825", .sha512: "38618901"]),
            (20_000_000_000, [.sha1: "65353130", .sha256: "77737706", .sha512: "47863826"]),
        ]
        for (time, codes) in table {
            for (algorithm, code) in codes {
                let parameters = OTPParameters(algorithm: algorithm, digits: 8, period: 30)
                let step = OneTimePassword.step(at: time, period: 30)
                #expect(OneTimePassword.totp(secret: secrets[algorithm]!, step: step, parameters: parameters) == code)
            }
        }
    }

    @Test func constantTimeEqualIsPlainEquality() {
        #expect(OneTimePassword.constantTimeEqual("123456", "123456"))
        #expect(!OneTimePassword.constantTimeEqual("123456", "123457"))
        #expect(!OneTimePassword.constantTimeEqual("123456", "1234567"))
    }
}
