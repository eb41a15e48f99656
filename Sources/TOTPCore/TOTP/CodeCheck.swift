/// The outcome of matching a submitted code against the steps around now.
package enum CodeCheck: Equatable, Sendable {
    case accepted(step: UInt64)
    /// Right code, but for a step already used: a replay.
    case replayed
    case wrong

    /// Tries every step in `now + drift ± window`. All candidates are computed and compared so
    /// the time taken does not depend on which one matched; only steps after `lastUsedStep` are
    /// accepted.
    package static func evaluate(
        code: String, secret: [UInt8], parameters: OTPParameters, unixTime: Int64,
        window: Int, drift: Int64 = 0, lastUsedStep: UInt64?
    ) -> CodeCheck {
        let center = Int64(OneTimePassword.step(at: unixTime, period: parameters.period)) + drift
        let first = UInt64(max(center - Int64(window), 0))
        let last = UInt64(max(center + Int64(window), 0))
        var accepted: UInt64?
        var replayed = false
        for step in first...last {
            let expected = OneTimePassword.totp(secret: secret, step: step, parameters: parameters)
            guard OneTimePassword.constantTimeEqual(expected, code) else { continue }
            if let lastUsedStep, step <= lastUsedStep {
                replayed = true
            } else if accepted == nil {
                accepted = step
            }
        }
        if let accepted { return .accepted(step: accepted) }
        return replayed ? .replayed : .wrong
    }
}
