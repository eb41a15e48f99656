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
        // The output's own directory may be a service account's (node_exporter's textfile
        // directory): nothing in it is followed. What leads to it must be root's, or its owner
        // could point it at any directory.
        try TrustedPath.checkDirectories(above: try TrustedPath.parent(of: output), what: "directory above the output")
        // A new file of a name no one could have prepared (mkstemp: O_EXCL), then renamed over
        // the old one, so a reader never sees half a file and no symbolic link is followed.
        var template = Array("\(output).XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw ValidationError("cannot write beside \(output): \(String(cString: strerror(errno)))") }
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let bytes = Array(text.utf8)
        let written = fchmod(fd, 0o644) == 0 && write(fd, bytes, bytes.count) == bytes.count
        close(fd)
        guard written, rename(temporary, output) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw ValidationError("cannot write \(output): \(reason)")
        }
    }
}
