import ArgumentParser
import Foundation
import TOTPCore

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the audit log (root or admin group).",
        discussion: "Example: totpctl log --user alice --since 2026-11-01T00:00:00Z")

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Only events about this account.")
    var user: String?
    @Option(help: "Only events from this time on (ISO 8601, e.g. 2026-11-01T00:00:00Z, or Unix seconds).")
    var since: String?
    @Flag(help: "Print a JSON array.")
    var json = false

    func validate() throws { _ = try sinceTime() }

    private func sinceTime() throws -> Int64? {
        guard let since else { return nil }
        if let seconds = Int64(since) { return seconds }
        guard let date = try? Date(since, strategy: .iso8601) else {
            throw ValidationError("--since takes ISO 8601 (2026-11-01T00:00:00Z) or Unix seconds, not \(since)")
        }
        return Int64(date.timeIntervalSince1970)
    }

    struct Entry: Encodable {
        var id: UInt64
        var time: String
        var event: String
        var user: String?
        var service: String?
        var rhost: String?
        var tty: String?
        var caller_uid: UInt64
        var caller_pid: UInt64
        var result: String
        /// The events this row stands for: more than 1 for a row that counts suppressed ones.
        var count: UInt64
    }

    func run() async throws {
        var entries: [Entry] = []
        var afterID: Int64 = 0
        while true {
            let response = try await connection.call(.auditLog(user: user, since: try sinceTime(), afterID: afterID))
            let page = response.fields.compactMap(\.recordFields).compactMap(Self.entry)
            guard let last = page.last else { break }
            entries += page
            afterID = Int64(last.id)
        }
        if json {
            print(try OutputFormat.json(entries))
            return
        }
        let rows = entries.map {
            [
                $0.time, $0.event, $0.user ?? "-", $0.result, $0.service ?? "-", $0.rhost ?? $0.tty ?? "-", "\($0.caller_uid)",
                "\($0.count)",
            ]
        }
        print(OutputFormat.table([["TIME", "EVENT", "USER", "RESULT", "SERVICE", "FROM", "CALLER", "COUNT"]] + rows))
    }

    private static func entry(_ fields: [WireField]) -> Entry? {
        func value(_ tag: FieldTag) -> WireField? { fields.first { $0.tag == tag.rawValue } }
        guard let id = value(.id)?.u64Value, let time = value(.time)?.u64Value, let event = value(.event)?.stringValue,
            let result = value(.result)?.stringValue
        else { return nil }
        return Entry(
            id: id, time: OutputFormat.timestamp(Int64(clamping: time)) ?? "\(time)", event: event,
            user: value(.user)?.stringValue, service: value(.service)?.stringValue, rhost: value(.rhost)?.stringValue,
            tty: value(.tty)?.stringValue, caller_uid: value(.callerUID)?.u64Value ?? 0,
            caller_pid: value(.callerPID)?.u64Value ?? 0, result: result, count: value(.count)?.u64Value ?? 1)
    }
}
