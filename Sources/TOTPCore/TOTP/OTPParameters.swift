/// How codes are derived from a secret: hash, number of digits and TOTP period.
package struct OTPParameters: Sendable, Equatable, Codable {
    package static let digitRange = 6...8
    package static let periodRange = 1...300

    package var algorithm: OTPAlgorithm
    package var digits: Int
    package var period: Int

    package static let `default` = OTPParameters(algorithm: .sha1, digits: 6, period: 30)

    package init(algorithm: OTPAlgorithm, digits: Int, period: Int) {
        precondition(Self.digitRange.contains(digits), "digits out of range")
        precondition(Self.periodRange.contains(period), "period out of range")
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
    }
}
