import ArgumentParser
import Foundation
import NIOCore
import TOTPCore

/// Options every subcommand shares: where the daemon is.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The daemon's socket (default: $TOTPD_SOCKET, else /run/totpd/socket).")
    var socket: String?

    /// The socket named here or in the environment; nil: the default.
    var namedSocket: String? { socket ?? ProcessInfo.processInfo.environment["TOTPD_SOCKET"] }

    var client: DaemonClient { DaemonClient.preferringRootSocket(besides: namedSocket ?? DaemonConfiguration.defaultSocketPath) }

    /// Sends the request and returns an OK response; anything else becomes the command's error.
    func call(_ request: Request, timeout: TimeAmount = .seconds(10)) async throws -> Response {
        var client = client
        client.timeout = timeout
        let response = try await client.send(request)
        guard response.result == .ok else {
            throw DaemonRefusal(result: response.result, explanation: response.explanation)
        }
        return response
    }
}

/// Options of the subcommands that act on one account, the caller's own by default. The account
/// may be named as an argument (`status alice`) or with --user.
struct UserOptions: ParsableArguments {
    @Argument(help: "The account to act on (default: yours).")
    var name: String?
    @Option(help: "The same as the NAME argument.")
    var user: String?

    func validate() throws {
        if let name, let user, name != user { throw ValidationError("name one account: \(name) or \(user)") }
    }

    func resolvedUser() throws -> String {
        if let user = name ?? user { return user }
        guard let name = try UserDirectory.account(uid: getuid())?.name else {
            throw ValidationError("cannot find the name of uid \(getuid()); pass --user")
        }
        return name
    }
}

struct DaemonRefusal: Error, CustomStringConvertible {
    var result: ResultCode
    var explanation: String?

    var description: String {
        let meaning: String =
            switch result {
            case .ok: "done"
            case .rejected: "the code was not accepted"
            case .notEnrolled: "not enrolled"
            case .locked: "too many attempts; try again later"
            case .denied: "permission denied"
            case .badRequest: "the daemon rejected the request as malformed"
            case .unsupportedVersion: "the daemon speaks another protocol version"
            case .unknownUser: "no such account"
            case .internalError: "the daemon failed; see its log"
            case .exempt: "exempt from the second factor"
            case .grace: "within a grace period"
            }
        return explanation.map { "\(meaning): \($0)" } ?? meaning
    }
}
