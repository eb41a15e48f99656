import ArgumentParser
import TOTPCore

struct Confirm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Activate a started enrollment with a code from the authenticator app; prints recovery codes.",
        discussion: "Example: totpctl confirm --code 123456")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var account: UserOptions
    @Option(help: "The code the app shows now, or - to read it from standard input (keeps it out of the process list).")
    var code: String
    @Flag(help: "Print the outcome as JSON (user, state, recovery_codes).")
    var json = false

    func run() async throws {
        let user = try account.resolvedUser()
        let response = try await connection.call(.enrollConfirm(user: user, code: OutputFormat.code(code)))
        if json {
            struct Confirmed: Encodable {
                var user: String
                var state: String
                var recovery_codes: [String]
            }
            print(try OutputFormat.json(Confirmed(user: user, state: "active", recovery_codes: response.recoveryCodes)))
        } else {
            print("\(user) is enrolled.\n\n" + OutputFormat.recoveryCodes(response.recoveryCodes))
        }
    }
}
