import ArgumentParser
import TOTPCore

struct Resync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-align with an authenticator whose clock is far off, using two consecutive codes.",
        discussion: "Example: totpctl resync   (type a code, wait for the app to show the next one, type that)")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var account: UserOptions
    func run() async throws {
        let user = try account.resolvedUser()
        let code = try CodeReader.code("Code from the app: ")
        let nextCode = try CodeReader.code("The next code, once the app shows it: ")
        _ = try await connection.call(.resync(user: user, code: code, nextCode: nextCode))
        print("\(user) is resynchronised.")
    }
}
