import Foundation

/// Whether the daemon answers on its socket, and whether it runs the release installed: a
/// daemon started before an upgrade keeps running the old binary until it is restarted. The
/// daemon says both itself, in its metrics; doctor runs nothing and reads no pid from a file,
/// since neither could be tied to the daemon it asked (a user's process can take a stale pid).
package struct DaemonCheck {
    let client: DaemonClient

    package init(client: DaemonClient) {
        self.client = client
    }

    package func run() async -> [DoctorFinding] {
        let subject = "daemon at \(client.socketPath)"
        let answer: Response
        do {
            answer = try await client.send(.list(afterUser: nil))
        } catch {
            return [
                DoctorFinding(
                    id: "daemon.unreachable", severity: .error, subject: subject, message: "\(error): every login that asks for a code fails",
                    fix: "start it (systemctl start totpd.socket totpd.service, or totpd) and read its log (journalctl -u totpd)")
            ]
        }
        if answer.result == .unsupportedVersion {
            return [
                DoctorFinding(
                    id: "daemon.protocol", severity: .error, subject: subject,
                    message: "the daemon does not speak totpctl's protocol (totpctl \(TOTPVersion.current))",
                    fix: "install totpd, totpctl and pam_totpd.so of one release, then systemctl restart totpd.service")
            ]
        }
        return await releaseFindings(subject)
    }

    private func releaseFindings(_ subject: String) async -> [DoctorFinding] {
        guard let answer = try? await client.send(.metrics), answer.result == .ok,
            let text = answer.string(.metrics), let version = Self.sample(#"totpd_build_info{version=""#, in: text)
        else {
            return [
                .skipped(
                    "daemon.version-unknown", subject: subject, because: "the daemon tells its release only to root and admin_group (its metrics)",
                    fix: "run totpctl doctor as root")
            ]
        }
        let restart = "systemctl restart totpd.service"
        if Self.sample("totpd_binary_replaced ", in: text) == "1" {
            return [
                DoctorFinding(
                    id: "daemon.binary-replaced", severity: .warning, subject: subject,
                    message: "totpd \(version) still runs a binary that was replaced since it started, so an upgrade is not in effect",
                    fix: restart)
            ]
        }
        guard version != TOTPVersion.release else { return [] }
        return [
            DoctorFinding(
                id: "daemon.version", severity: .warning, subject: subject,
                message: "the daemon is totpd \(version), totpctl is \(TOTPVersion.release)",
                fix: "install totpd and totpctl of one release, then \(restart)")
        ]
    }

    /// What follows `prefix` on its line of the exposition, up to a quote or the line's end.
    private static func sample(_ prefix: String, in text: String) -> String? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        return String(line.dropFirst(prefix.count).prefix { $0 != "\"" })
    }
}
