import ArgumentParser
import TOTPCore

struct Confirm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Activate a started enrollment with a code from the authenticator app; prints recovery codes.",
        discussion: """
            Asks for the code the app shows (in scripts, reads it from standard input):
              totpctl confirm
              oathtool --totp -b "$SECRET" | totpctl confirm --json
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var account: UserOptions
    @Flag(help: "Print the outcome as JSON (user, state, recovery_codes).")
    var json = false

    func run() async throws {
        let user = try account.resolvedUser()
        let code = try CodeReader.code("Code from the app: ")
        let response = try await connection.call(.enrollConfirm(user: user, code: code))
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
