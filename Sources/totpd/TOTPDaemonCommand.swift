import ArgumentParser
import Logging
import ServiceLifecycle
import TOTPCore

#if canImport(Glibc)
import Glibc
#endif

@main
struct TOTPDaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "totpd",
        abstract: "TOTP second-factor daemon: holds the secrets, verifies codes for PAM and totpctl.",
        discussion: "Runs in the foreground, logs to stderr, stops cleanly on SIGTERM or SIGINT.",
        version: TOTPVersion.current)

    @Option(help: "Unix socket to listen on.")
    var socket = DaemonConfiguration.defaultSocketPath

    @Option(name: .customLong("state-dir"), help: "Directory of the store (created 0700 if missing).")
    var stateDirectory = DaemonConfiguration.defaultStateDirectory

    @Option(name: .customLong("key-file"), help: "Store encryption key (created 0600 if missing; default: STATE-DIR/secret.key).")
    var keyFile: String?

    @Option(help: "Issuer name shown by authenticator apps (default: this host's name).")
    var issuer: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        ProcessHardening.apply()
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "totpd")
        let configuration = DaemonConfiguration(
            socketPath: socket, stateDirectory: stateDirectory, keyFile: keyFile, issuer: issuer ?? Self.hostName())
        let server: Server
        do {
            server = try Daemon.makeServer(configuration: configuration, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        let group = ServiceGroup(
            configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "totpd" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
