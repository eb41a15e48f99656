import Foundation
import Testing

@testable import TOTPCore

/// oathtool (GNU oath-toolkit) is an independent implementation: agreeing with it on random
/// secrets, times, digits and periods catches errors the fixed RFC vectors would miss.
@Suite struct OathtoolAgreementTests {
    @Test(arguments: OTPAlgorithm.allCases)
    func agreesWithOathtool(_ algorithm: OTPAlgorithm) throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let secret = (0..<Int.random(in: 10...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let time = Int64.random(in: 0...4_000_000_000, using: &generator)
            let parameters = OTPParameters(
                algorithm: algorithm, digits: Int.random(in: 6...8, using: &generator),
                period: [30, 60, 15, 45].randomElement(using: &generator)!)
            let ours = OneTimePassword.totp(
                secret: secret, step: OneTimePassword.step(at: time, period: parameters.period), parameters: parameters)
            let theirs = try Self.oathtool(secret: secret, time: time, parameters: parameters)
            #expect(ours == theirs, "secret \(Base32.encode(secret)) time \(time) \(parameters)")
        }
    }

    static func oathtool(secret: [UInt8], time: Int64, parameters: OTPParameters) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/oathtool")
        process.arguments = [
            "--totp=\(parameters.algorithm.rawValue.lowercased())", "--base32", "--digits=\(parameters.digits)",
            "--time-step-size=\(parameters.period)s", "--now=@\(time)", Base32.encode(secret),
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "oathtool failed; is the oathtool package installed?")
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
