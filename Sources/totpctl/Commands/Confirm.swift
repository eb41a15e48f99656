import ArgumentParser
import TOTPCore

struct Confirm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Activate a started enrollment with a code from the authenticator app.",
        discussion: "Example: totpctl confirm --code 123456")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var account: UserOptions
    @Option(help: "The code the app shows now, or - to read it from standard input (keeps it out of the process list).")
    var code: String
    @Flag(help: "Print the outcome as JSON.")
    var json = false

    func run() async throws {
        let user = try account.resolvedUser()
        let typed = code == "-" ? (readLine(strippingNewline: true) ?? "") : code
        _ = try await connection.call(.enrollConfirm(user: user, code: typed))
        print(json ? try OutputFormat.json(["user": user, "state": EnrollmentState.active.rawValue]) : "\(user) is enrolled.")
    }
}
