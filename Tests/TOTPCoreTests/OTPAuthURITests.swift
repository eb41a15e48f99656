import Testing

@testable import TOTPCore

@Suite struct OTPAuthURITests {
    let secret = Array("12345678901234567890".utf8)

    @Test func leavesOutDefaultParameters() {
        let uri = OTPAuthURI(issuer: "web01", account: "alice", secret: secret, parameters: .default)
        #expect(uri.string == "otpauth://totp/web01:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=web01")
    }

    @Test func writesNonDefaultParameters() {
        let parameters = OTPParameters(algorithm: .sha512, digits: 8, period: 60)
        let uri = OTPAuthURI(issuer: "web01", account: "alice", secret: secret, parameters: parameters)
        #expect(uri.string.hasSuffix("&issuer=web01&algorithm=SHA512&digits=8&period=60"))
    }

    @Test func percentEncodesLabelAndIssuer() {
        let uri = OTPAuthURI(issuer: "ACME Co: prod&test", account: "bob smith@é", secret: secret, parameters: .default)
        #expect(uri.string.hasPrefix("otpauth://totp/ACME%20Co%3A%20prod%26test:bob%20smith%40%C3%A9?secret="))
        #expect(uri.string.hasSuffix("&issuer=ACME%20Co%3A%20prod%26test"))
    }
}
