import Testing

@testable import TOTPCore

/// Fifty clients send the same right code at once, through the real server: exactly one is
/// accepted, a hundred steps in a row. Once with limits high enough that only the replay
/// check decides, once with the default limiter in the way.
@Suite(.serialized) struct ReplayRaceTests {
    let user = TestDaemon.currentUser
    static let clients = 50
    static let rounds = 100

    @Test func onlyTheReplayCheckDecides() async throws {
        try await TestDaemon.run(configure: { configuration in
            configuration.maxConnectionsPerUID = Self.clients
            configuration.throttle.attempts = 10 * Self.clients
            configuration.throttle.lockoutThreshold = 100 * Self.clients * Self.rounds
            configuration.throttle.hardLimit = configuration.throttle.lockoutThreshold
        }) { daemon in
            let outcomes = try await race(daemon)
            #expect(outcomes.accepted == Array(repeating: 1, count: Self.rounds))
            // Every loser was checked and refused as a replay, not turned away by a limit.
            #expect(outcomes.other == 0)
        }
    }

    @Test func withTheDefaultLimiter() async throws {
        try await TestDaemon.run(configure: { $0.maxConnectionsPerUID = Self.clients }) { daemon in
            let outcomes = try await race(daemon)
            #expect(outcomes.accepted == Array(repeating: 1, count: Self.rounds))
        }
    }

    /// Per round (one fresh step): how many of the concurrent VERIFYs were accepted; and, over
    /// all rounds, how many answers were neither OK nor REJECTED.
    private func race(_ daemon: TestDaemon) async throws -> (accepted: [Int], other: Int) {
        let secret = try await daemon.enroll(user)
        var accepted: [Int] = []
        var other = 0
        for _ in 0..<Self.rounds {
            daemon.clock.advance(by: 30)
            let verify = Request.verify(user: user, code: try daemon.code(secret), context: AuditContext(service: "race"))
            let results = try await withThrowingTaskGroup(of: ResultCode.self) { group in
                for _ in 0..<Self.clients {
                    group.addTask { try await daemon.client.send(verify).result }
                }
                return try await group.reduce(into: [ResultCode]()) { $0.append($1) }
            }
            accepted.append(results.count { $0 == .ok })
            other += results.count { $0 != .ok && $0 != .rejected }
        }
        return (accepted, other)
    }
}
