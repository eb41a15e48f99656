import Foundation

/// Whether the daemon answers on its socket, and whether it runs the release installed: a
/// daemon started before an upgrade keeps running the old binary until it is restarted.
package struct DaemonCheck {
    let client: DaemonClient
    /// Where InstanceLock wrote the daemon's pid.
    let stateDirectory: String

    package init(client: DaemonClient, stateDirectory: String) {
        self.client = client
        self.stateDirectory = stateDirectory
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
        return binaryFindings(subject)
    }

    private func binaryFindings(_ subject: String) -> [DoctorFinding] {
        let lock = stateDirectory + "/totpd.lock"
        guard let text = try? String(contentsOfFile: lock, encoding: .utf8),
            let pid = text.split(separator: "\n").first.flatMap({ Int32($0) }),
            let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
        else {
            return [
                .skipped(
                    "daemon.version-unknown", subject: subject,
                    because: "the daemon's process cannot be found from \(lock) (doctor reads it and /proc/PID/exe as root)",
                    fix: "run totpctl doctor as root")
            ]
        }
        let restart = "systemctl restart totpd.service"
        if executable.hasSuffix(" (deleted)") {
            return [
                DoctorFinding(
                    id: "daemon.binary-replaced", severity: .warning, subject: subject,
                    message: "totpd (pid \(pid)) still runs \(executable): the binary was replaced since it started, so an upgrade is not in effect",
                    fix: restart)
            ]
        }
        // The running binary's own --version: /proc/PID/exe is the file the process runs.
        guard let answer = HostCommand.run("/proc/\(pid)/exe", ["--version"]), answer.status == 0 else { return [] }
        let version = answer.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard version != TOTPVersion.current else { return [] }
        return [
            DoctorFinding(
                id: "daemon.version", severity: .warning, subject: subject,
                message: "the daemon is totpd \(version), totpctl is \(TOTPVersion.current)",
                fix: "install totpd and totpctl of one release, then \(restart)")
        ]
    }
}
