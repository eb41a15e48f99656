import Foundation
import Testing

@testable import TOTPCore

@Suite struct ConfigurationFileTests {
    static let shippedFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("config/totpd.conf").path

    func load(_ text: String) throws(ConfigurationError) -> DaemonConfiguration {
        try ConfigurationFile.load(path: "test.conf", contents: text)
    }

    func failure(_ text: String) -> ConfigurationError? {
        do {
            _ = try load(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func shippedFileStatesTheBuiltInDefaults() throws {
        let text = try String(contentsOfFile: Self.shippedFile, encoding: .utf8)
        #expect(try ConfigurationFile.load(path: Self.shippedFile, contents: text) == DaemonConfiguration())
    }

    @Test func emptyFileMeansDefaults() throws {
        #expect(try load("") == DaemonConfiguration())
        #expect(try load("# only a comment\n") == DaemonConfiguration())
    }

    @Test func readsEveryKey() throws {
        let configuration = try load("""
            socket: /run/x/socket
            state_directory: /srv/totpd
            key_file: /etc/totpd/secret.key
            issuer: "ACME prod"
            admin_group: root
            enrollment: {algorithm: sha256, digits: 8, period: 60, expiry: 300}
            enroll_at_login: [sshd, sudo]
            verification: {window: 2}
            rate_limit: {attempts: 5, interval: 60}
            lockout: {failures: 3, initial_delay: 10, max_delay: 600, hard_limit: 10}
            second_factor: {required: ["%root", bob], exempt: [svc]}
            grace_period: {sudo: 300}
            connections: {max: 100, per_uid: 4, request_timeout: 2}
            """)
        #expect(configuration.socketPath == "/run/x/socket")
        #expect(configuration.stateDirectory == "/srv/totpd")
        #expect(configuration.keyFilePath == "/etc/totpd/secret.key")
        #expect(configuration.resolvedIssuer == "ACME prod")
        #expect(configuration.adminGroup == "root")
        #expect(configuration.newEnrollmentParameters == OTPParameters(algorithm: .sha256, digits: 8, period: 60))
        #expect(configuration.enrollmentLifetime == 300)
        #expect(configuration.enrollAtLogin == ["sshd", "sudo"])
        #expect(configuration.allowsEnrollmentAtLogin(service: "sshd") && !configuration.allowsEnrollmentAtLogin(service: "su"))
        #expect(configuration.window == 2)
        #expect(configuration.throttle.attempts == 5 && configuration.throttle.interval == 60)
        #expect(configuration.throttle.lockoutThreshold == 3 && configuration.throttle.initialDelay == 10)
        #expect(configuration.throttle.maxDelay == 600 && configuration.throttle.hardLimit == 10)
        #expect(configuration.secondFactor == SecondFactorPolicy(required: ["%root", "bob"], exempt: ["svc"]))
        #expect(configuration.gracePeriods == ["sudo": 300])
        #expect(configuration.maxConnections == 100 && configuration.maxConnectionsPerUID == 4)
        #expect(configuration.requestTimeoutMilliseconds == 2000)
    }

    @Test(arguments: [
        ("socket: /x\nbogus: 1\n", 2, "bogus", "unknown key"),
        ("enrollment:\n  digit: 6\n", 2, "enrollment.digit", "unknown key"),
        ("enrollment:\n  digits: six\n", 2, "enrollment.digits", "whole number from 6 to 8"),
        ("enrollment:\n  digits: 9\n", 2, "enrollment.digits", "whole number from 6 to 8"),
        ("enrollment:\n  digits: -6\n", 2, "enrollment.digits", "whole number"),
        ("enrollment:\n  digits: 0x6\n", 2, "enrollment.digits", "whole number"),
        ("enrollment:\n  algorithm: MD5\n", 2, "enrollment.algorithm", "SHA1, SHA256 or SHA512"),
        ("\n\nsocket: relative/path\n", 3, "socket", "absolute path"),
        ("socket: [a, b]\n", 1, "socket", "single value"),
        ("enrollment: 5\n", 1, "enrollment", "mapping"),
        ("verification:\n  window: 4\n", 2, "verification.window", "0 to 3"),
        ("lockout:\n  hard_limit: 100\n", 2, "lockout.hard_limit", "2 to 50"),
        ("lockout:\n  failures: 5\n  hard_limit: 5\n", 2, "lockout.hard_limit", "greater than lockout.failures"),
        ("lockout:\n  initial_delay: 60\n  max_delay: 30\n", 2, "lockout.max_delay", "not be less than"),
        ("second_factor:\n  exempt: alice\n", 2, "second_factor.exempt", "must be a list"),
        ("second_factor:\n  required: [\"%no-such-group-here\"]\n", 2, "second_factor.required", "does not exist"),
        ("admin_group: no-such-group-here\n", 1, "admin_group", "does not exist"),
        ("grace_period:\n  sudo: forever\n", 2, "grace_period.sudo", "whole number"),
        ("enroll_at_login: sshd\n", 1, "enroll_at_login", "must be a list"),
        ("enroll_at_login:\n  - sshd\n  - \"../sudo\"\n", 3, "enroll_at_login", "PAM service names"),
        ("enroll_at_login: [\"\"]\n", 1, "enroll_at_login", "PAM service names"),
        ("connections:\n  per_uid: 0\n", 2, "connections.per_uid", "1 to 1024"),
    ])
    func refusesBadValuesNamingKeyAndLine(text: String, line: Int, key: String, problem: String) {
        let error = failure(text)
        #expect(error?.line == line, "\(String(describing: error))")
        #expect(error?.key == key, "\(String(describing: error))")
        #expect(error?.problem.contains(problem) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("test.conf:\(line): \(key): ") == true)
    }

    @Test func enrollmentAtLoginIsOffUnlessListed() throws {
        #expect(!DaemonConfiguration().allowsEnrollmentAtLogin(service: "sshd"))
        #expect(try load("enroll_at_login: [\"*\"]\n").allowsEnrollmentAtLogin(service: "anything"))
    }

    @Test func refusesInvalidYAMLAndDuplicateKeys() {
        #expect(failure("socket: [1\n")?.problem.contains("not valid YAML") == true)
        #expect(failure("socket: /a\nsocket: /b\n")?.problem.contains("socket") == true)
        #expect(failure("- a\n- b\n")?.problem.contains("mapping") == true)
    }

    @Test func valuesAreNotImplicitlyTyped() throws {
        // YAML 1.1 would read `no` as false; here a string value stays the string it looks like.
        #expect(try load("issuer: no\n").resolvedIssuer == "no")
        #expect(try load("issuer: 123\n").resolvedIssuer == "123")
    }
}
