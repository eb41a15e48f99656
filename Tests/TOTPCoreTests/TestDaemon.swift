import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Testing

@testable import TOTPCore

/// The production server wiring, run in-process on a temporary socket with a manual clock.
struct TestDaemon {
    let client: DaemonClient
    let clock: ManualClock
    let configuration: DaemonConfiguration

    /// `startTime`: the manual clock's first reading, so a daemon started again on the same
    /// state directory (set by `configure`) can go on where the last one stopped.
    static func run(
        startTime: Int64 = 1_700_000_000, configure: (inout DaemonConfiguration) -> Void = { _ in },
        _ body: (TestDaemon) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        var configuration = DaemonConfiguration(
            socketPath: directory.path + "/socket", stateDirectory: directory.path + "/state", issuer: "test-host")
        configure(&configuration)
        let clock = ManualClock(startTime)
        let logger = Logger(label: "totpd-test")
        let server = try await Daemon.makeServer(configuration: configuration, clock: clock, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let daemon = TestDaemon(client: DaemonClient(socketPath: configuration.socketPath, serverUID: geteuid()), clock: clock, configuration: configuration)
            try await daemon.waitUntilListening()
            do {
                try await body(daemon)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        withExtendedLifetime(directory) {}
    }

    private func waitUntilListening() async throws {
        for _ in 0..<500 {
            if (try? await client.send(.list(afterUser: nil))) != nil { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw DaemonClient.ClientError(description: "test daemon did not start listening")
    }

    /// The daemon's store opened a second time beside it, to set up in bulk what would take
    /// the protocol too long (a thousand enrollments) or that it cannot make at will.
    func openStore() async throws -> Store {
        try await Daemon.openStore(configuration: configuration, clock: clock, logger: Logger(label: "totpd-test")).0
    }

    /// The account running the tests: the only one a non-root caller may act on.
    static var currentUser: String { (try? UserDirectory.account(uid: getuid()))!!.name }

    func code(_ secret: String, offset: Int64 = 0) throws -> SubmittedCode {
        let step = OneTimePassword.step(at: clock.unixTime() + offset * 30, period: 30)
        return .totp(OneTimePassword.totp(secret: try Base32.decode(secret), step: step, parameters: .default))
    }

    func enroll(_ user: String) async throws -> String {
        let begun = try await client.send(.enrollBegin(user: user, proof: nil))
        let secret = try #require(begun.fields.first { $0.tag == FieldTag.secret.rawValue }?.stringValue)
        #expect(try await client.send(.enrollConfirm(user: user, code: code(secret))).result == .ok)
        return secret
    }
}
