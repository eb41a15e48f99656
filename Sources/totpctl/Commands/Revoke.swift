import ArgumentParser
import TOTPCore

struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove an account's secret; its next login is treated as not enrolled (root or admin group).",
        discussion: "Example: totpctl revoke alice")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The account to revoke.")
    var user: String

    func run() async throws {
        _ = try await connection.call(.revoke(user: user))
        print("\(user) is revoked.")
    }
}
