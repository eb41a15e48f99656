import Foundation

/// sshd must hand logins to PAM in a way that asks for the code: UsePAM, keyboard-interactive
/// authentication, and AuthenticationMethods so that a public key alone does not log in.
package struct SSHDCheck {
    let configuration: SSHDConfiguration

    package init(configuration: SSHDConfiguration) {
        self.configuration = configuration
    }

    /// Reads the settings as `sshd -T` prints them on the running system, else from the files.
    package static func configuration(tree: HostTree) -> (SSHDConfiguration, [DoctorFinding]) {
        guard tree.isLiveSystem, let sshd = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"].first(where: FileManager.default.isExecutableFile)
        else { return (SSHDConfiguration(tree: tree), []) }
        let result = HostCommand.run(sshd, ["-T"])
        // `sshd -T` without -C leaves Match blocks out too: the files say where they change something.
        if let result, result.status == 0 {
            let files = SSHDConfiguration(tree: tree)
            return (SSHDConfiguration(effective: result.output), files.untrustedFiles + files.matchOverrides)
        }
        let note = DoctorFinding.skipped(
            "sshd.effective-unavailable", subject: "sshd",
            because: "`\(sshd) -T` did not answer (\(result?.errorSummary ?? "it could not run")); sshd_config and its Include files were read instead",
            fix: "run doctor as root on a host whose sshd has its host keys")
        return (SSHDConfiguration(tree: tree), [note])
    }

    /// Where systemd looks for a unit and its drop-ins, in every directory of its search path:
    /// ssh.service, ssh.socket and the sshd@.service it starts, and the drop-ins of every service
    /// and socket.
    private static let unitPaths: [(path: String, listed: Bool)] = {
        let directories = [
            "/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient", "/etc/systemd/system", "/run/systemd/system",
            "/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system",
        ]
        var paths: [(path: String, listed: Bool)] = []
        for directory in directories {
            for unit in ["ssh.service", "ssh.socket", "sshd@.service"] {
                paths += [(directory + "/" + unit, false), (directory + "/" + unit + ".d", true)]
            }
            paths += [(directory + "/service.d", true), (directory + "/socket.d", true)]
        }
        return paths
    }()

    /// How sshd starts decides as much as its files: Debian's ssh.service passes SSHD_OPTS from
    /// /etc/default/ssh, whose `-o` options override every file, and whoever can change the unit,
    /// its drop-ins or that file gives sshd any.
    package static func startupFindings(tree: HostTree) -> [DoctorFinding] {
        var findings = ([("/etc/default/ssh", false)] + unitPaths).compactMap { file, listed in
            tree.ownershipProblem(of: file, listed: listed).map { owner in
                DoctorFinding(
                    id: "sshd.untrusted-file", severity: .error, subject: "sshd", location: tree.path(file),
                    message: "\(owner): whoever can change it chooses the options sshd starts with, which override sshd_config (-o AuthenticationMethods=publickey lets a key alone in)",
                    fix: "make \(tree.path(file)), and each directory and link on the way to it, root's and writable by no one else (chown root, chmod go-w)")
            }
        }
        let lines = (tree.contents(of: "/etc/default/ssh") ?? "").split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            // systemd's EnvironmentFile takes blanks around `=`, and the sysvinit script a shell's `export`.
            var assignment = line.drop { $0 == " " || $0 == "\t" }
            if assignment.hasPrefix("export ") { assignment = assignment.dropFirst("export ".count) }
            let parts = assignment.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "SSHD_OPTS" else { continue }
            let value = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"' \t"))
            guard !value.isEmpty else { continue }
            findings.append(
                DoctorFinding(
                    id: "sshd.command-line", severity: .warning, subject: "sshd", location: "\(tree.path("/etc/default/ssh")):\(index + 1)",
                    message: "sshd starts with the options `\(value.prefix(200))`, which override its files, and doctor checks the files without them",
                    fix: "move the settings into /etc/ssh/sshd_config.d and leave SSHD_OPTS empty, or check `sshd -T \(value.prefix(200))` by hand"))
        }
        return findings
    }

    package func run() -> [DoctorFinding] {
        var findings = configuration.problems + configuration.untrustedFiles + configuration.matchOverrides
        guard configuration.problems.isEmpty && configuration.untrustedFiles.isEmpty else { return findings }
        if let finding = require("UsePAM", default: "no", "UsePAM yes", because: "sshd does not run PAM at all, so no ssh login asks for the code") {
            findings.append(finding)
        }
        if let setting = configuration["KbdInteractiveAuthentication"], setting.value.lowercased() != "yes" {
            findings.append(
                finding(
                    "sshd.keyboard-interactive", setting, "\(setting.keyword) \(setting.value): PAM cannot prompt for the code, so ssh logins that need it fail",
                    fix: "set `KbdInteractiveAuthentication yes`"))
        }
        findings += authenticationMethods() + keyboardDevices()
        return findings
    }

    /// Methods that log in without PAM's auth stack, when enabled (sshd's defaults in brackets):
    /// a public key [yes], host-based [no], GSSAPI [no], and a password Kerberos accepts [no],
    /// which sshd tries before PAM.
    private var methodsWithoutPAM: [String] {
        let enabled = { (name: String, byDefault: String) in (configuration[name]?.value ?? byDefault).lowercased() == "yes" }
        var methods: [String] = []
        if enabled("PubkeyAuthentication", "yes") { methods.append("publickey") }
        if enabled("HostbasedAuthentication", "no") { methods.append("hostbased") }
        if enabled("GSSAPIAuthentication", "no") { methods.append("gssapi-with-mic") }
        if enabled("KerberosAuthentication", "no") && enabled("PasswordAuthentication", "yes") { methods.append("password (Kerberos)") }
        return methods
    }

    /// Each method that does not run PAM's auth stack logs in alone unless every list of
    /// methods also names keyboard-interactive.
    private func authenticationMethods() -> [DoctorFinding] {
        let alone = methodsWithoutPAM
        guard !alone.isEmpty else { return [] }
        let setting = configuration["AuthenticationMethods"]
        let lists = (setting?.value ?? "any").split(whereSeparator: \.isWhitespace).map(String.init)
        let withoutCode = lists.filter { list in
            list == "any" || !list.split(separator: ",").contains { $0 == "keyboard-interactive" || $0.hasPrefix("keyboard-interactive:") }
        }
        guard !withoutCode.isEmpty else { return [] }
        return [
            DoctorFinding(
                id: "sshd.authentication-methods", severity: .error, subject: "sshd", location: setting?.location ?? configuration.source,
                message: setting == nil
                    ? "AuthenticationMethods is not set: \(alone.joined(separator: ", ")) logs in alone, and PAM never asks for the code"
                    : "AuthenticationMethods \(setting!.value): \(withoutCode.joined(separator: " ")) logs in without keyboard-interactive, so without the code",
                fix: "set `AuthenticationMethods publickey,keyboard-interactive` (or `keyboard-interactive` alone for password and code)")
        ]
    }

    /// `keyboard-interactive:DEVICE` asks for one device, and an sshd built for Linux has only
    /// `pam`: a list naming another never completes.
    private func keyboardDevices() -> [DoctorFinding] {
        guard let setting = configuration["AuthenticationMethods"] else { return [] }
        let devices = setting.value.split(whereSeparator: \.isWhitespace).flatMap { $0.split(separator: ",") }.compactMap { method in
            method.hasPrefix("keyboard-interactive:") ? method.dropFirst("keyboard-interactive:".count) : nil
        }
        // No device after the colon is every device, pam among them.
        return Set(devices.filter { $0 != "pam" && !$0.isEmpty }).sorted().map { device in
            finding(
                "sshd.keyboard-device", setting,
                "AuthenticationMethods \(setting.value): keyboard-interactive:\(device) asks for a device this sshd does not have (only pam), so the logins that need it fail",
                fix: "write `keyboard-interactive` (or keyboard-interactive:pam)")
        }
    }

    private func require(_ name: String, default value: String, _ wanted: String, because reason: String) -> DoctorFinding? {
        let setting = configuration[name] ?? SSHDConfiguration.Setting(value: value, location: nil, keyword: name)
        guard setting.value.lowercased() != "yes" else { return nil }
        let how = configuration[name] == nil ? "\(name) is not set (sshd's default is \(value))" : "\(name) \(setting.value)"
        return finding("sshd.\(name.lowercased())", setting, "\(how): \(reason)", fix: "set `\(wanted)`")
    }

    private func finding(_ id: String, _ setting: SSHDConfiguration.Setting, _ message: String, fix: String) -> DoctorFinding {
        DoctorFinding(id: id, severity: .error, subject: "sshd", location: setting.location ?? configuration.source, message: message, fix: fix)
    }
}
