import Testing

@testable import TOTPCore

/// The injected clock jumping hours and days either way: a used step is never accepted again,
/// and a lockout neither vanishes nor stretches to the length of the jump.
extension ThrottleTests {
    static let hour: Int64 = 3600
    static let day: Int64 = 86_400

    @Test func usedStepsStayUsedWhenTheClockJumps() async throws {
        clock.advance(by: 30)
        let used = code()
        #expect(try await attempt(used) == .accepted)
        // Each refusal counts as a failure: two jumps stay below the lockout threshold.
        for jump in [-Self.hour, -Self.day] {
            clock.advance(by: jump)
            // The codes of that earlier time are older than the last used step.
            #expect(try await attempt(code()) == .replayed)
            clock.advance(by: -jump)
            #expect(try await attempt(used) == .replayed)
            clock.advance(by: 30)  // a new interval, so the rate limit stays out of the way
        }
        clock.advance(by: Self.day)
        let later = code()
        #expect(try await attempt(later) == .accepted)
        // Back to a step between the two that was never used: still older than the last one.
        clock.advance(by: -Self.day + 30)
        #expect(try await attempt(code()) == .replayed)
        clock.advance(by: Self.day)
        #expect(try await attempt(later) == .replayed)
        clock.advance(by: -7 * Self.day)
        #expect(try await attempt(code()) == .replayed)
    }

    @Test func aLockoutKeepsItsLengthWhenTheClockGoesBack() async throws {
        for _ in 0..<policy.lockoutThreshold {
            clock.advance(by: 30)
            #expect(try await attempt(wrongCode()) == .rejected)
        }
        let length = try #require(policy.lockDuration(afterFailures: policy.lockoutThreshold))
        for jump in [-Self.hour, -Self.day] {
            clock.advance(by: jump)
            // Still locked (it does not vanish), for the lock's length from now at most.
            #expect(try await attempt(code()) == .locked(retryAfter: length))
            clock.advance(by: -jump)
        }
        clock.advance(by: length)
        #expect(try await attempt(code()) == .accepted)
    }

    @Test func theHardLockSurvivesJumpsBothWays() async throws {
        for _ in 0..<policy.hardLimit {
            clock.advance(by: policy.maxDelay)
            #expect(try await attempt(wrongCode()) == .rejected)
        }
        for jump in [10 * 365 * Self.day, -20 * 365 * Self.day, 10 * 365 * Self.day - Self.hour] {
            clock.advance(by: jump)
            #expect(try await attempt(code()) == .locked(retryAfter: nil))
        }
    }
}
