import ArgumentParser
import TOTPCore

struct Reset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove an account's second factor and let it set up a new one (root or admin group).",
        discussion: """
            Removes the secret, recovery codes and failure counts, as for a new account: the next \
            enrollment, at login (where enroll_at_login allows it) or with totpctl enroll, is open. \
            Also lifts a revoke. Admins act on ordinary accounts only.
            Example: totpctl reset alice
            """)

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The account to reset.")
    var user: String

    func run() async throws {
        _ = try await connection.call(.reset(user: user))
        print("\(user) is reset; its next enrollment is open.")
    }
}
