#if canImport(Glibc)
import Glibc
#endif

/// Everything the daemon needs to run: the configuration file's values, then command-line
/// overrides. Defaults here are the documented defaults of config/totpd.conf.
package struct DaemonConfiguration: Sendable, Equatable {
    package static let defaultSocketPath = "/run/totpd/socket"
    package static let defaultStateDirectory = "/var/lib/totpd"
    package static let defaultConfigurationFile = "/etc/totpd/totpd.conf"

    package var socketPath = defaultSocketPath
    package var stateDirectory = defaultStateDirectory
    /// Nil: `secret.key` inside the state directory.
    package var keyFile: String?
    /// The name authenticator apps show above the account; nil: this host's name.
    package var issuer: String?
    /// Members (primary or supplementary) may run admin operations; nil: root only.
    package var adminGroup: String?
    package var newEnrollmentParameters = OTPParameters.default
    /// Seconds a started enrollment waits for its confirming code.
    package var enrollmentLifetime: Int64 = 600
    /// PAM services in which a user without an enrollment may set one up during the login
    /// (`*`: all); elsewhere such a user is refused.
    package var enrollAtLogin: [String] = []
    /// How many steps either side of the expected one are accepted.
    package var window = 1
    package var throttle = ThrottlePolicy()
    package var secondFactor = SecondFactorPolicy()
    /// Per PAM service: seconds after a success from the same user and remote host during
    /// which no code is asked.
    package var gracePeriods: [String: Int64] = [:]
    package var maxConnections = 512
    package var maxConnectionsPerUID = 16
    package var auditRetention = AuditRetention()
    /// How long a client has to deliver its request after connecting.
    package var requestTimeoutMilliseconds: Int64 = 5000

    package init(socketPath: String = defaultSocketPath, stateDirectory: String = defaultStateDirectory, issuer: String? = nil) {
        self.socketPath = socketPath
        self.stateDirectory = stateDirectory
        self.issuer = issuer
    }

    package var databasePath: String { stateDirectory + "/totpd.sqlite" }
    /// Root's own socket (0600), so that the login stack never waits in the queue every local
    /// user can fill. Derived, not configured: the PAM module finds it from `socket=` alone.
    package var rootSocketPath: String { Self.rootSocketPath(besides: socketPath) }

    /// The public socket's path with `.root` appended: the PAM module and totpctl derive it the
    /// same way, and each socket has its own, so daemons sharing a directory never mix.
    package static func rootSocketPath(besides socketPath: String) -> String { socketPath + ".root" }
    package var keyFilePath: String { keyFile ?? stateDirectory + "/secret.key" }
    package var resolvedIssuer: String { issuer ?? HostName.current }

    /// The values of the configuration file at `path`; with no path, of the default file if
    /// there is one, else the defaults. The daemon and totpctl's store commands read it alike.
    package static func load(from path: String?) throws -> DaemonConfiguration {
        let file = path ?? defaultConfigurationFile
        guard path != nil || access(file, F_OK) == 0 else { return DaemonConfiguration() }
        return try ConfigurationFile.load(path: file, contents: try ConfigurationFile.contents(of: file))
    }

    package func allowsEnrollmentAtLogin(service: String) -> Bool {
        enrollAtLogin.contains("*") || enrollAtLogin.contains(service)
    }
}
