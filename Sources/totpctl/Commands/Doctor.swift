import ArgumentParser
import Foundation
import TOTPCore

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check this host's totpd setup and say how to fix each problem found.",
        discussion: """
            Checks the daemon and its version, the files' owners and modes, the configuration, \
            the clock, every PAM service that runs pam_totpd.so, sshd, and accounts that must give \
            a code but have none. Exit status 1 when an error or a warning is found, 0 when there \
            are notes at most. Run it as root for every check.
            Example: totpctl doctor --root /srv/image --json
            """)

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Check the tree below DIR, a path without symbolic links, instead of this host (the daemon only with --socket).")
    var root: String?
    @Option(help: "The daemon's configuration file (default: /etc/totpd/totpd.conf, below --root).")
    var config: String?
    @Flag(help: "Print one JSON object: {root, findings: [{id, severity, subject, location, message, fix}], errors, warnings, notes}.")
    var json = false

    func run() async throws {
        let tree = HostTree(root: root ?? "/")
        // Asked of the tree as opened, not of the path beforehand, which may change in between.
        if let problem = tree.rootProblem { throw ValidationError("--root \(tree.root) \(problem)") }
        let findings = await TOTPCore.Doctor(tree: tree, configurationPath: config, socketPath: connection.namedSocket).run()
        print(json ? try OutputFormat.json(Report(root: tree.root, findings: findings.map(Self.printable))) : Self.text(findings))
        throw ExitCode(TOTPCore.Doctor.exitStatus(findings))
    }

    private struct Report: Encodable {
        var root: String
        var findings: [DoctorFinding]
        var errors: Int
        var warnings: Int
        var notes: Int

        init(root: String, findings: [DoctorFinding]) {
            self.root = root
            self.findings = findings
            errors = findings.filter { $0.severity == .error }.count
            warnings = findings.filter { $0.severity == .warning }.count
            notes = findings.filter { $0.severity == .note }.count
        }
    }

    private static func text(_ findings: [DoctorFinding]) -> String {
        let report = Report(root: "", findings: findings)
        let lines = findings.map { finding in
            var text = "\(finding.severity.rawValue.uppercased()) [\(finding.id)] \(printable(finding.subject))"
            if let location = finding.location { text += "\n  at   \(printable(location))" }
            text += "\n  \(printable(finding.message))\n  fix: \(printable(finding.fix))"
            return text
        }
        let summary =
            report.errors + report.warnings == 0
            ? "No problems found (\(report.notes) notes)."
            : "\(report.errors) errors, \(report.warnings) warnings, \(report.notes) notes."
        return (lines + [summary]).joined(separator: "\n\n")
    }

    /// JSON escapes only what is below U+0020: a report piped to a terminal must not carry
    /// C1 controls or bidirectional overrides either.
    private static func printable(_ finding: DoctorFinding) -> DoctorFinding {
        var shown = finding
        (shown.subject, shown.message, shown.fix) = (printable(finding.subject), printable(finding.message), printable(finding.fix))
        shown.location = finding.location.map(printable)
        return shown
    }

    /// Findings quote configuration files and account names: nothing in them reaches the terminal as a control character.
    private static func printable(_ text: String) -> String {
        text.unicodeScalars.map { QuotedText.isUnprintable($0) ? "\\u{" + String($0.value, radix: 16, uppercase: true) + "}" : String($0) }.joined()
    }
}
