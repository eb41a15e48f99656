import ArgumentParser
import TOTPCore

struct Unlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lift a lockout and reset the failure count (root or admin group).",
        discussion: "Example: totpctl unlock alice")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The account to unlock.")
    var user: String

    func run() async throws {
        _ = try await connection.call(.unlock(user: user))
        print("\(user) is unlocked.")
    }
}
