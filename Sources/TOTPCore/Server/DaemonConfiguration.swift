/// Everything the daemon needs to run. Built from command-line flags now; the configuration
/// file fills the same struct.
package struct DaemonConfiguration: Sendable {
    package var socketPath: String
    package var stateDirectory: String
    /// Defaults to `secret.key` inside the state directory.
    package var keyFile: String?
    /// The name authenticator apps show above the account.
    package var issuer: String
    package var newEnrollmentParameters: OTPParameters
    /// How many steps either side of now are accepted.
    package var window: Int
    /// Seconds a started enrollment waits for its confirming code.
    package var enrollmentLifetime: Int64
    /// How long a client has to deliver its request after connecting.
    package var requestTimeoutMilliseconds: Int64 = 5000

    package static let defaultSocketPath = "/run/totpd/socket"
    package static let defaultStateDirectory = "/var/lib/totpd"

    package init(
        socketPath: String = defaultSocketPath, stateDirectory: String = defaultStateDirectory,
        keyFile: String? = nil, issuer: String, newEnrollmentParameters: OTPParameters = .default,
        window: Int = 1, enrollmentLifetime: Int64 = 600
    ) {
        self.socketPath = socketPath
        self.stateDirectory = stateDirectory
        self.keyFile = keyFile
        self.issuer = issuer
        self.newEnrollmentParameters = newEnrollmentParameters
        self.window = window
        self.enrollmentLifetime = enrollmentLifetime
    }

    package var databasePath: String { stateDirectory + "/totpd.sqlite" }
    package var keyFilePath: String { keyFile ?? stateDirectory + "/secret.key" }
}
