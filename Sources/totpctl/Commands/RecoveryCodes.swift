import ArgumentParser
import TOTPCore

struct RecoveryCodes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery-codes",
        abstract: "Replace your recovery codes with 10 new ones (needs a current code).",
        discussion: "Example: totpctl recovery-codes --regenerate   (then type the code the app shows)")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var account: UserOptions
    @Flag(help: "Make new codes; the old ones stop working.")
    var regenerate = false

    func validate() throws {
        guard regenerate else { throw ValidationError("codes are shown only when made: pass --regenerate") }
    }

    func run() async throws {
        let user = try account.resolvedUser()
        let code = try CodeReader.code("Code from the app: ")
        let response = try await connection.call(.regenerateRecoveryCodes(user: user, code: code))
        print(OutputFormat.recoveryCodes(response.recoveryCodes))
    }
}
