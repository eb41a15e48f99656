import ArgumentParser
import TOTPCore

struct Resync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-align with an authenticator whose clock is far off, using two consecutive codes.",
        discussion: "Example: totpctl resync --code 123456 --code 654321   (wait for the app to show the next code)")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var account: UserOptions
    @Option(help: "Two consecutive codes from the app, in order.")
    var code: [String] = []

    func validate() throws {
        guard code.count == 2 else { throw ValidationError("give exactly two consecutive codes: --code A --code B") }
    }

    func run() async throws {
        let user = try account.resolvedUser()
        _ = try await connection.call(.resync(user: user, code: code[0], nextCode: code[1]))
        print("\(user) is resynchronised.")
    }
}
