import ArgumentParser
import TOTPCore

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an account's enrollment state.", discussion: "Example: totpctl status alice")

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
        let json = OutputFormat.StatusJSON(status)
        var rows = [["user", json.user], ["state", json.state], ["failures", "\(json.failures)"]]
        for (label, text) in [
            ("expires", json.expires), ("enrolled since", json.activated), ("last success", json.lastSuccess),
            ("locked until", json.lockedUntil),
        ] {
            if let text { rows.append([label, text]) }
        }
        if status.state == .active { rows.append(["recovery codes left", "\(json.recoveryCodesLeft)"]) }
        print(OutputFormat.table(rows))
    }
}
