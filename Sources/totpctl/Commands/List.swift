import ArgumentParser
import TOTPCore

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every account with an enrollment (root or admin group).", discussion: "Example: totpctl list --json")

    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print a JSON array.")
    var json = false

    /// What the table shows of an account, kept small: a table's columns are as wide as their
    /// widest cell, so every row is held until the last page, and there may be a million.
    private struct Row {
        var user: String
        var state: EnrollmentState
        var lastSuccessAt: Int64?
        var failures: Int

        var cells: [String] { [user, state.rawValue, OutputFormat.timestamp(lastSuccessAt) ?? "-", "\(failures)"] }
    }

    func run() async throws {
        if json {
            // One array, printed a page at a time: each page's elements without its brackets.
            var separator = "["
            try await forEachPage { page in
                let array = try OutputFormat.json(page.map(OutputFormat.StatusJSON.init))
                print(separator + array.dropFirst().dropLast(), terminator: "")
                separator = ","
            }
            print(separator == "[" ? "[]" : "]")
            return
        }
        let header = ["USER", "STATE", "LAST SUCCESS", "FAILURES"]
        var widths = header.map(\.count)
        var rows: [Row] = []
        try await forEachPage { page in
            for status in page {
                let row = Row(
                    user: QuotedText.quoted(status.user), state: status.state, lastSuccessAt: status.lastSuccessAt,
                    failures: status.failures)
                widths = zip(widths, row.cells).map { max($0, $1.count) }
                rows.append(row)
            }
        }
        print(OutputFormat.tableLine(header, widths: widths))
        for row in rows { print(OutputFormat.tableLine(row.cells, widths: widths)) }
    }

    private func forEachPage(_ body: ([EnrollmentStatus]) throws -> Void) async throws {
        try await EnrollmentPages.forEach(call: { [connection] in try await connection.call($0) }, body)
    }
}
