import Foundation

/// `totpctl doctor`: every check of a host, or of a tree given with --root, in one report.
package struct Doctor {
    package var tree = HostTree()
    /// --config, as on the host; nil: /etc/totpd/totpd.conf.
    package var configurationPath: String?
    /// --socket or $TOTPD_SOCKET: a live path; nil: the configuration's, below the tree.
    package var socketPath: String?
    /// Whether to ask the daemon: not that of a tree (--root) unless --socket names one.
    package var checksDaemon: Bool
    /// The uid the daemon runs as: root, except for a test daemon.
    package var daemonUID: uid_t = 0

    package init(tree: HostTree = HostTree(), configurationPath: String? = nil, socketPath: String? = nil) {
        self.tree = tree
        self.configurationPath = configurationPath
        self.socketPath = socketPath
        checksDaemon = tree.isLiveSystem || socketPath != nil
    }

    package func run() async -> [DoctorFinding] {
        let (configuration, configurationFindings) = ConfigurationCheck(tree: tree, path: configurationPath).run()
        var findings = configurationFindings
        findings += FilesCheck(tree: tree, configuration: configuration, socketPath: socketPath ?? tree.path(configuration.socketPath)).run()

        var enrolled: Set<String>?
        if checksDaemon {
            let daemon = DaemonClient.preferringRootSocket(besides: socketPath ?? configuration.socketPath, serverUID: daemonUID)
            let daemonFindings = await DaemonCheck(client: daemon).run()
            findings += daemonFindings
            if !daemonFindings.contains(where: { $0.severity == .error }) { enrolled = await activeEnrollments(daemon) }
        } else {
            findings.append(
                .skipped("daemon.skipped", subject: "daemon", because: "not checked under --root: it is the running system's", fix: "give --socket to check a running daemon too"))
        }

        if tree.isLiveSystem {
            findings += ClockCheck().run()
        } else {
            findings.append(.skipped("clock.skipped", subject: "clock", because: "not checked under --root: it is the running system's"))
        }

        let pam = PAMCheck(tree: tree).run()
        findings += pam.findings
        if pam.services.contains("sshd") {
            let (sshd, notes) = SSHDCheck.configuration(tree: tree)
            findings += notes + SSHDCheck.startupFindings(tree: tree) + SSHDCheck(configuration: sshd).run()
        }

        if let enrolled {
            findings += await EnrollmentCoverageCheck(tree: tree, policy: configuration.secondFactor, enrolled: enrolled).run()
        } else {
            findings.append(
                .skipped(
                    "enrollment.skipped", subject: "enrollments", because: "which accounts lack an enrollment needs the daemon's list",
                    fix: "run totpctl doctor as root (or a member of admin_group) with the daemon running"))
        }
        if tree.readLimitReached {
            findings.append(
                DoctorFinding(
                    id: "doctor.read-limit", severity: .error, subject: tree.root,
                    message: "doctor stopped reading \(tree.root) after \(HostTree.maxReadInAll >> 20) MiB: files that include each other, or too many files; the checks are incomplete",
                    fix: "find the includes that repeat (the findings above name where the checks stopped)"))
        }
        return Self.withoutRepeats(findings)
    }

    /// The accounts whose enrollment is active; LIST is for root and the admin group only.
    private func activeEnrollments(_ daemon: DaemonClient) async -> Set<String>? {
        var active: Set<String> = []
        do {
            try await EnrollmentPages.forEach(call: { request in
                let response = try await daemon.send(request)
                guard response.result == .ok else {
                    throw DaemonClient.ClientError(description: "the daemon refused LIST (\(response.result))\(response.explanation.map { ": \($0)" } ?? "")")
                }
                return response
            }) { page in
                active.formUnion(page.filter { $0.state == .active }.map(\.user))
            }
        } catch {
            return nil
        }
        return active
    }

    /// A line in a file that several PAM services include is reported once, for the first.
    private static func withoutRepeats(_ findings: [DoctorFinding]) -> [DoctorFinding] {
        var seen: Set<String> = []
        return findings.filter { seen.insert("\($0.id) \($0.location ?? $0.subject + $0.message)").inserted }
    }

    /// Exit status: 1 when there is an error or a warning, 0 when there are notes at most.
    package static func exitStatus(_ findings: [DoctorFinding]) -> Int32 {
        findings.contains { $0.severity != .note } ? 1 : 0
    }
}
