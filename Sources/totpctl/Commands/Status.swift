import ArgumentParser
import TOTPCore

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an account's enrollment state.", discussion: "Example: totpctl status --user alice")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var account: UserOptions
    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        let response = try await connection.call(.status(user: try account.resolvedUser()))
        guard let status = EnrollmentStatus(fields: response.fields) else {
            throw ValidationError("the daemon's answer lacks status fields")
        }
        if json {
            print(try OutputFormat.json(OutputFormat.StatusJSON(status)))
            return
        }
        var rows = [["user", status.user], ["state", status.state.rawValue], ["failures", "\(status.failures)"]]
        for (label, time) in [("expires", status.expiresAt), ("activated", status.activatedAt), ("last success", status.lastSuccessAt)] {
            if let text = OutputFormat.timestamp(time) { rows.append([label, text]) }
        }
        print(OutputFormat.table(rows))
    }
}
