import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TOTPCore

@main
struct TOTPDaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "totpd",
        abstract: "TOTP second-factor daemon: holds the secrets, verifies codes for PAM and totpctl.",
        discussion: """
            Reads /etc/totpd/totpd.conf (or --config), then applies the flags given here.
            Runs in the foreground, logs to stderr, stops cleanly on SIGTERM or SIGINT.
            Example: totpd --check-config --config /etc/totpd/totpd.conf
            """,
        version: TOTPVersion.current)

    @Option(help: "Configuration file (default: /etc/totpd/totpd.conf; skipped if that default is missing).")
    var config: String?

    @Flag(name: .customLong("check-config"), help: "Validate the configuration, print the result and exit.")
    var checkConfig = false

    @Option(help: "Unix socket to listen on (overrides 'socket').")
    var socket: String?


    @Option(name: .customLong("state-dir"), help: "Directory of the store (overrides 'state_directory').")
    var stateDirectory: String?

    @Option(name: .customLong("key-file"), help: "Store encryption key (overrides 'key_file').")
    var keyFile: String?

    @Option(help: "Issuer name shown by authenticator apps (overrides 'issuer').")
    var issuer: String?

    @Option(
        name: .customLong("import-oath"),
        help: "Enroll the accounts of a pam_oath users file (TOTP lines, no PINs) in one transaction, then exit.")
    var importOATH: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        ProcessHardening.apply()
        let configuration: DaemonConfiguration
        do {
            configuration = try loadConfiguration()
        } catch {
            FileHandle.standardError.write(Data("totpd: \(error)\n".utf8))
            throw ExitCode.failure
        }
        if checkConfig {
            print("totpd: configuration OK (\(config ?? DaemonConfiguration.defaultConfigurationFile))")
            return
        }
        if let importOATH {
            LoggingSystem.bootstrap { _ in JournalLogHandler(logLevel: .warning, withPriorityPrefix: false) }
            do {
                let count = try await OATHImport.run(path: importOATH, configuration: configuration, logger: Logger(label: "totpd"))
                print("totpd: imported \(count) accounts from \(importOATH)")
            } catch {
                FileHandle.standardError.write(Data("totpd: \(error)\n".utf8))
                throw ExitCode.failure
            }
            return
        }
        let level = logLevel
        let journal = SystemdIntegration.stderrIsJournal
        LoggingSystem.bootstrap { _ in JournalLogHandler(logLevel: level, withPriorityPrefix: journal) }
        let logger = Logger(label: "totpd")
        let server: Server
        do {
            server = try await Daemon.makeServer(configuration: configuration, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        let group = ServiceGroup(
            configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    private func loadConfiguration() throws -> DaemonConfiguration {
        var configuration = try DaemonConfiguration.load(from: config)
        if let socket { configuration.socketPath = socket }
        if let stateDirectory { configuration.stateDirectory = stateDirectory }
        if let keyFile { configuration.keyFile = keyFile }
        if let issuer { configuration.issuer = issuer }
        return configuration
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
