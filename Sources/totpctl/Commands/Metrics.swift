import ArgumentParser
import Foundation
import TOTPCore

#if canImport(Glibc)
import Glibc
#endif

struct Metrics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the daemon's counters in Prometheus's text format (root or admin group).",
        discussion: """
            With --output, the text replaces FILE whole (written beside it, then renamed), as
            node_exporter's textfile collector needs. Example, every minute from a timer:
              totpctl metrics --output /var/lib/prometheus/node-exporter/totpd.prom
            """)

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Write to this file, atomically, instead of standard output.")
    var output: String?

    func run() async throws {
        let text = try await connection.call(.metrics).string(.metrics) ?? ""
        guard let output else {
            print(text, terminator: "")
            return
        }
        let temporary = output + ".\(getpid()).tmp"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, output) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            unlink(temporary)
            throw ValidationError("cannot write \(output): \(String(cString: strerror(errno)))")
        }
    }
}
