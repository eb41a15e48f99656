import ArgumentParser
import TOTPCore

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every account with an enrollment (root or admin group).", discussion: "Example: totpctl list --json")

    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print a JSON array.")
    var json = false

    func run() async throws {
        let response = try await connection.call(.list)
        let statuses = response.fields.filter { $0.tag == FieldTag.record.rawValue }.compactMap {
            $0.recordFields.flatMap(EnrollmentStatus.init(fields:))
        }
        if json {
            print(try OutputFormat.json(statuses.map(OutputFormat.StatusJSON.init)))
            return
        }
        let rows = statuses.map {
            [$0.user, $0.state.rawValue, OutputFormat.timestamp($0.lastSuccessAt) ?? "-", "\($0.failures)"]
        }
        print(OutputFormat.table([["USER", "STATE", "LAST SUCCESS", "FAILURES"]] + rows))
    }
}
