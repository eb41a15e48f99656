import ArgumentParser
import TOTPCore

struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take an account's second factor away after a lost phone or a compromised session (root or admin group).",
        discussion: """
            Removes the secret and recovery codes. The account cannot set up a new factor itself, at \
            login or with totpctl enroll, until an administrator runs totpctl reset (or enrolls it). \
            Admins act on ordinary accounts only; root's and other admins' need root.
            Example: totpctl revoke alice
            """)

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The account to revoke.")
    var user: String

    func run() async throws {
        _ = try await connection.call(.revoke(user: user))
        print("\(user) is revoked; it cannot enroll again until: totpctl reset \(user)")
    }
}
