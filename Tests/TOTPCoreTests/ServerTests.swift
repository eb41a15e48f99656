import Foundation
import class GRDB.DatabaseQueue
import NIOCore
import Testing

@testable import TOTPCore

@Suite(.serialized) struct ServerTests {
    let user = TestDaemon.currentUser

    @Test func enrollVerifyReplayRevokeThroughTheSocket() async throws {
        try await TestDaemon.run { daemon in
            let begun = try await daemon.client.send(.enrollBegin(user: user, proof: nil))
            #expect(begun.result == .ok)
            let uri = try #require(begun.fields.first { $0.tag == FieldTag.uri.rawValue }?.stringValue)
            #expect(uri.hasPrefix("otpauth://totp/test-host:\(user)?secret="))
            let secret = try #require(begun.fields.first { $0.tag == FieldTag.secret.rawValue }?.stringValue)
            #expect(try await daemon.client.send(.status(user: user)).fields.contains(.string(.state, "pending")))
            #expect(try await daemon.client.send(.enrollConfirm(user: user, code: daemon.code(secret))).result == .ok)

            daemon.clock.advance(by: 30)
            let code = try daemon.code(secret)
            let verify = Request.verify(user: user, code: code, context: AuditContext(service: "test"))
            #expect(try await daemon.client.send(verify).result == .ok)
            #expect(try await daemon.client.send(verify).result == .rejected)

            if getuid() == 0 {
                #expect(try await daemon.client.send(.revoke(user: user)).result == .ok)
                daemon.clock.advance(by: 30)
                let next = Request.verify(user: user, code: try daemon.code(secret), context: AuditContext())
                #expect(try await daemon.client.send(next).result == .notEnrolled)
            }
        }
    }

    @Test func malformedInputGetsAClearErrorAndChangesNothing() async throws {
        try await TestDaemon.run { daemon in
            let secret = try await daemon.enroll(user)
            let statusBefore = try await daemon.client.send(.status(user: user))
            let cases: [(WireMessage, ResultCode, String)] = [
                (WireMessage(code: 99), .badRequest, "unknown operation 99"),
                (WireMessage(code: Operation.verify.rawValue, fields: [.string(.user, user)]), .badRequest, "code is missing"),
                (WireMessage(code: Operation.verify.rawValue, fields: [.string(.user, user), .string(.code, "12a456")]), .badRequest, "6 to 8 digits"),
                (WireMessage(code: Operation.verify.rawValue, fields: [.string(.user, user), .string(.code, "12345")]), .badRequest, "6 to 8 digits"),
                (WireMessage(code: Operation.status.rawValue, fields: [.string(.user, user), .string(.user, user)]), .badRequest, "more than once"),
                (WireMessage(code: Operation.status.rawValue, fields: [.string(.user, user), .string(.code, "123456")]), .badRequest, "not accepted by status"),
                (WireMessage(code: Operation.status.rawValue, fields: [WireField(tag: 200, value: [1])]), .badRequest, "not accepted"),
                (WireMessage(code: Operation.status.rawValue, fields: [.string(.user, "a\nb")]), .badRequest, "control characters"),
                (WireMessage(code: Operation.status.rawValue, fields: [WireField(tag: FieldTag.user.rawValue, value: [0xFF, 0xFE])]), .badRequest, "UTF-8"),
                (WireMessage(code: Operation.status.rawValue, fields: [WireField(tag: FieldTag.user.rawValue, value: Array(repeating: 97, count: 300))]), .badRequest, "longer than 256"),
            ]
            for (message, expected, text) in cases {
                let response = try Response(decoding: try await daemon.client.exchange(message))
                #expect(response.result == expected, "\(message)")
                #expect(response.explanation?.contains(text) == true, "\(response.explanation ?? "no explanation")")
            }
            // Frames that are broken below the message level.
            let raw: [([UInt8], ResultCode, String)] = [
                ([0, 1, 0, 0] + Array(repeating: 0, count: 16), .badRequest, "exceeds the limit of 4096"),
                ([0, 0, 0, 0], .badRequest, "empty body"),
                ([0, 0, 0, 1, 1], .badRequest, "shorter than 2 bytes"),
                ([0, 0, 0, 2, 2, 4], .unsupportedVersion, "version 2"),
                ([0, 0, 0, 5, 1, 4, 1, 0, 9], .badRequest, "runs past the end"),
            ]
            for (bytes, expected, text) in raw {
                let reply = try await daemon.client.exchange(rawFrame: ByteBuffer(bytes: bytes), prefixLength: false)
                let response = try Response(decoding: try WireMessage.decode(reply))
                #expect(response.result == expected, "\(bytes)")
                #expect(response.explanation?.contains(text) == true, "\(response.explanation ?? "no explanation")")
            }
            #expect(try await daemon.client.send(.status(user: user)) == statusBefore)
            daemon.clock.advance(by: 30)
            let verify = Request.verify(user: user, code: try daemon.code(secret), context: AuditContext())
            #expect(try await daemon.client.send(verify).result == .ok)
        }
    }

    @Test func silentClientIsDisconnectedAndOthersAreServed() async throws {
        try await TestDaemon.run(configure: { $0.requestTimeoutMilliseconds = 300 }) { daemon in
            // Half a frame, then silence: the daemon must hang up on its own, long before this
            // client would give up (the margin leaves room for a loaded machine).
            var patient = daemon.client
            patient.timeout = .seconds(120)
            let started = ContinuousClock.now
            await #expect(throws: (any Error).self) {
                _ = try await patient.exchange(rawFrame: ByteBuffer(bytes: [0, 0, 0, 10, 1]), prefixLength: false)
            }
            #expect(ContinuousClock.now - started < .seconds(60))
            let status = try await daemon.client.send(.status(user: user))
            #expect(status.result == .ok)
        }
    }

    @Test(.enabled(if: getuid() == 0, "only root may start an enrollment at login"))
    func loginEnrollmentOnlyInAllowedServicesAndOnlyOnce() async throws {
        try await TestDaemon.run(configure: { $0.enrollAtLogin = ["sshd"] }) { daemon in
            let sshd = AuditContext(service: "sshd", rhost: "192.0.2.7")
            for context in [AuditContext(service: "sudo"), AuditContext()] {
                let refused = try await daemon.client.send(.loginEnroll(user: user, context: context))
                #expect(refused.result == .denied)
                #expect(refused.explanation?.contains("not enabled for service") == true)
            }
            #expect(try await daemon.client.send(.status(user: user)).string(.state) == "none")
            #expect(try await daemon.client.send(.loginEnroll(user: "no-such-user-here", context: sshd)).result == .unknownUser)

            let begun = try await daemon.client.send(.loginEnroll(user: user, context: sshd))
            #expect(begun.result == .ok)
            let secret = try #require(begun.string(.secret))
            // The drawing: half-block lines of one width, as many as half the modules.
            let lines = try #require(begun.string(.qr)).split(separator: "\n")
            #expect(Set(lines.map(\.count)).count == 1)
            #expect(lines.count == (lines[0].count + 1) / 2)
            #expect(lines.joined().allSatisfy { " ▀▄█".contains($0) })

            let confirmed = try await daemon.client.send(.enrollConfirm(user: user, code: daemon.code(secret), context: sshd))
            #expect(confirmed.result == .ok && confirmed.recoveryCodes.count == 10)
            let again = try await daemon.client.send(.loginEnroll(user: user, context: sshd))
            #expect(again.result == .denied && again.explanation?.contains("already enrolled") == true)
            daemon.clock.advance(by: 30)
            #expect(try await daemon.client.send(.verify(user: user, code: daemon.code(secret), context: sshd)).result == .ok)
        }
    }

    @Test func anEnrollmentLeftUnconfirmedLapsesWithoutASecret() async throws {
        try await TestDaemon.run { daemon in
            let begun = try await daemon.client.send(.enrollBegin(user: user, proof: nil))
            let secret = try #require(begun.string(.secret))
            daemon.clock.advance(by: daemon.configuration.enrollmentLifetime + 1)
            #expect(try await daemon.client.send(.status(user: user)).string(.state) == "none")
            #expect(try await daemon.client.send(.enrollConfirm(user: user, code: daemon.code(secret))).result == .notEnrolled)
            #expect(try await daemon.client.send(.verify(user: user, code: daemon.code(secret), context: AuditContext())).result == .notEnrolled)
            // Nothing of the secret is left in the store file.
            let database = try DatabaseQueue(path: daemon.configuration.databasePath)
            let rows = try await database.read { db in
                try Int.fetchOne(db, sql: "SELECT (SELECT count(*) FROM pending_enrollment) + (SELECT count(*) FROM enrollment)")
            }
            #expect(rows == 0)
        }
    }

    @Test func refusesToStartWithAnExposedStateDirectory() async throws {
        let directory = try TemporaryDirectory()
        let state = directory.path + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        let configuration = DaemonConfiguration(socketPath: directory.path + "/socket", stateDirectory: state, issuer: "t")
        do {
            _ = try await Daemon.makeServer(configuration: configuration, logger: .init(label: "test"))
            Issue.record("daemon started with a world-readable state directory")
        } catch {
            #expect("\(error)".contains(state))
            #expect("\(error)".contains("chmod 700"))
        }
        #expect(!FileManager.default.fileExists(atPath: state + "/totpd.sqlite"))
    }

    @Test func refusesToStartWithAnExposedKeyFile() async throws {
        let directory = try TemporaryDirectory()
        let state = directory.path + "/state"
        let configuration = DaemonConfiguration(socketPath: directory.path + "/socket", stateDirectory: state, issuer: "t")
        _ = try await Daemon.makeServer(configuration: configuration, logger: .init(label: "test"))
        chmod(configuration.keyFilePath, 0o644)
        do {
            _ = try await Daemon.makeServer(configuration: configuration, logger: .init(label: "test"))
            Issue.record("daemon started with a readable key file")
        } catch {
            #expect("\(error)".contains(configuration.keyFilePath))
            #expect("\(error)".contains("chmod 600"))
        }
    }

    @Test func aSecondDaemonOnTheSameStoreRefusesToStart() async throws {
        let directory = try TemporaryDirectory()
        let state = directory.path + "/state"
        let first = DaemonConfiguration(socketPath: directory.path + "/socket", stateDirectory: state, issuer: "t")
        let second = DaemonConfiguration(socketPath: directory.path + "/other", stateDirectory: state, issuer: "t")
        do {
            let serving = try await Daemon.makeServer(configuration: first, logger: .init(label: "test"))
            let refused = await #expect(throws: PrivateFiles.SetupError.self) {
                _ = try await Daemon.makeServer(configuration: second, logger: .init(label: "test"))
            }
            #expect(refused?.description.contains("another totpd (pid \(getpid())) is serving the store in \(state)") == true)
            withExtendedLifetime(serving) {}
        }
        // Released with the first daemon: the store is free again.
        _ = try await Daemon.makeServer(configuration: second, logger: .init(label: "test"))
    }
}
