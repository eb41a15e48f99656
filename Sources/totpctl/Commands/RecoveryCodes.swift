import ArgumentParser
import TOTPCore

struct RecoveryCodes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery-codes",
        abstract: "Replace your recovery codes with 10 new ones (needs a current code).",
        discussion: "Example: totpctl recovery-codes --regenerate --code 123456")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var account: UserOptions
    @Flag(help: "Make new codes; the old ones stop working.")
    var regenerate = false
    @Option(help: "A current code from the app (- reads standard input).")
    var code: String

    func validate() throws {
        guard regenerate else { throw ValidationError("codes are shown only when made: pass --regenerate") }
    }

    func run() async throws {
        let response = try await connection.call(
            .regenerateRecoveryCodes(user: try account.resolvedUser(), code: OutputFormat.code(code)))
        print(OutputFormat.recoveryCodes(response.recoveryCodes))
    }
}
