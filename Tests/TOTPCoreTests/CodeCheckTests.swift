import Testing

@testable import TOTPCore

@Suite struct CodeCheckTests {
    let secret = Array("12345678901234567890".utf8)
    let now: Int64 = 1_700_000_015
    var step: UInt64 { OneTimePassword.step(at: now, period: 30) }

    func code(_ step: UInt64) -> String { OneTimePassword.totp(secret: secret, step: step, parameters: .default) }

    func check(_ code: String, lastUsed: UInt64? = nil) -> CodeCheck {
        CodeCheck.evaluate(code: code, secret: secret, parameters: .default, unixTime: now, window: 1, lastUsedStep: lastUsed)
    }

    @Test func acceptsOneStepEitherSide() {
        for offset in [-1, 0, 1] {
            let target = UInt64(Int64(step) + Int64(offset))
            #expect(check(code(target)) == .accepted(step: target))
        }
    }

    @Test func rejectsTwoStepsAway() {
        #expect(check(code(step - 2)) == .wrong)
        #expect(check(code(step + 2)) == .wrong)
    }

    @Test func refusesStepsAlreadyUsed() {
        #expect(check(code(step), lastUsed: step) == .replayed)
        #expect(check(code(step - 1), lastUsed: step) == .replayed)
        #expect(check(code(step + 1), lastUsed: step) == .accepted(step: step + 1))
    }
}
