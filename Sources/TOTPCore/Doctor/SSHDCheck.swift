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

    /// Where systemd looks for a unit and its drop-ins, in every directory of its search path
    /// (generators' included): ssh.service, its alias sshd.service, ssh.socket and the
    /// sshd@.service it starts, and the drop-ins of every service and socket.
    private static let unitPaths: [(path: String, listed: Bool)] = {
        let directories = [
            "/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient", "/run/systemd/generator.early",
            "/etc/systemd/system", "/etc/systemd/system.attached", "/run/systemd/system", "/run/systemd/system.attached", "/run/systemd/generator",
            "/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system", "/run/systemd/generator.late",
        ]
        var paths: [(path: String, listed: Bool)] = []
        for directory in directories {
            for unit in ["ssh.service", "sshd.service", "ssh.socket", "ssh@.service", "sshd@.service"] {
                paths += [(directory + "/" + unit, false), (directory + "/" + unit + ".d", true)]
            }
            paths += [(directory + "/service.d", true), (directory + "/socket.d", true)]
        }
        return paths
    }()

    /// How sshd starts decides as much as its files: Debian's ssh.service passes SSHD_OPTS from
    /// /etc/default/ssh, whose `-o` options override every file, and whoever can change the unit,
    /// a drop-in or an environment file it names gives sshd any.
    package static func startupFindings(tree: HostTree) -> [DoctorFinding] {
        var findings: [DoctorFinding] = []
        var units: [String] = []
        for (path, listed) in unitPaths {
            if let owner = tree.ownershipProblem(of: path, listed: listed) {
                findings.append(untrustedStartup(path, owner, tree: tree))
            } else if !listed {
                units.append(path)
            } else {
                for name in (try? tree.entries(of: path)) ?? [] where name.hasSuffix(".conf") {
                    if let owner = tree.ownershipProblem(of: path + "/" + name) { findings.append(untrustedStartup(path + "/" + name, owner, tree: tree)) } else { units.append(path + "/" + name) }
                }
            }
        }
        var environmentFiles = ["/etc/default/ssh"]
        var programs = ["/usr/sbin/sshd"]
        for unit in units {
            for (number, line) in lines(of: unit, tree: tree, into: &findings) {
                let (key, value) = assignment(line)
                let location = "\(tree.path(unit)):\(number)"
                if key == "EnvironmentFile" {
                    let file = value.hasPrefix("-") ? String(value.dropFirst()) : value
                    // A glob, a specifier or a continued line doctor does not expand.
                    if !file.hasPrefix("/") || file.contains(where: { "*?[%\\".contains($0) }) {
                        findings.append(commandLine(line, at: location))
                    } else if !environmentFiles.contains(file) {
                        environmentFiles.append(file)
                    }
                } else if key == "Environment" && (value.contains("SSHD_OPTS") || value.contains("-o") || value.contains("-f")) {
                    findings.append(commandLine(value, at: location))
                } else if key.hasPrefix("Exec") {
                    // The program after systemd's prefixes (`-`, `@`, `+`, `!`, `:`), run as root.
                    let words = value.drop { "-@:+!|".contains($0) }.split(whereSeparator: \.isWhitespace).map(String.init)
                    guard let program = words.first, program.hasPrefix("/") else { continue }
                    // sshd runs on ExecStartPre, ExecStart and ExecReload alike: each file is judged once.
                    if !programs.contains(program) { programs.append(program) }
                    // sshd's -o and -f, alone or among other letters (`-Do`).
                    let options = words.dropFirst().filter { $0.hasPrefix("-") && !$0.hasPrefix("--") && $0.dropFirst().contains { $0 == "o" || $0 == "f" } }
                    if program.split(separator: "/").last == "sshd" && !options.isEmpty { findings.append(commandLine(value, at: location)) }
                }
            }
        }
        for program in programs {
            if let owner = tree.ownershipProblem(of: program) { findings.append(untrustedStartup(program, owner, tree: tree)) }
        }
        for file in environmentFiles {
            if let owner = tree.ownershipProblem(of: file) {
                findings.append(untrustedStartup(file, owner, tree: tree))
                continue
            }
            for (number, line) in lines(of: file, tree: tree, into: &findings) {
                // The shell that reads it for the sysvinit script takes `export`.
                let (key, value) = assignment(line.hasPrefix("export ") ? String(line.dropFirst("export ".count)) : line)
                // Anything but nothing, quoted or not: a quote may run on to the next line.
                if key == "SSHD_OPTS" && !["", "\"\"", "''"].contains(value) { findings.append(commandLine(value, at: "\(tree.path(file)):\(number)")) }
            }
        }
        return findings
    }

    /// A file's lines, numbered, ended as systemd ends them (a carriage return too), without
    /// their leading blanks; one doctor cannot read is a finding, since systemd reads what it can.
    private static func lines(of file: String, tree: HostTree, into findings: inout [DoctorFinding]) -> [(Int, String)] {
        let text: String
        do {
            text = try tree.read(file)
        } catch .missing {
            return []
        } catch .notARegularFile {
            // /dev/null, which masks a unit: systemd reads nothing from it either.
            return []
        } catch {
            findings.append(
                DoctorFinding(
                    id: "sshd.unreadable", severity: .error, subject: "sshd", location: tree.path(file),
                    message: "\(tree.path(file)) \(error), so the options it gives sshd are not checked",
                    fix: "make it a regular UTF-8 file of at most \(HostTree.maxFileSize >> 20) MiB, or remove it"))
            return []
        }
        return text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated().map { ($0 + 1, String($1.drop { $0 == " " || $0 == "\t" })) }
    }

    /// `KEY=VALUE`, with blanks around `=`; the value as written, less the blanks around it.
    private static func assignment(_ line: String) -> (key: String, value: String) {
        let parts = line.split(separator: "=", maxSplits: 1)
        guard parts.count == 2 else { return ("", "") }
        return (parts[0].trimmingCharacters(in: .whitespaces), parts[1].trimmingCharacters(in: .whitespaces))
    }

    private static func untrustedStartup(_ file: String, _ owner: String, tree: HostTree) -> DoctorFinding {
        DoctorFinding(
            id: "sshd.untrusted-file", severity: .error, subject: "sshd", location: tree.path(file),
            message: "\(owner): whoever can change it chooses the options sshd starts with, which override sshd_config (-o AuthenticationMethods=publickey lets a key alone in)",
            fix: DoctorFinding.ownershipFix(tree.path(file)))
    }

    private static func commandLine(_ value: String, at location: String) -> DoctorFinding {
        DoctorFinding(
            id: "sshd.command-line", severity: .warning, subject: "sshd", location: location,
            message: "sshd starts with the options `\(value.prefix(200))`, which override its files, and doctor checks the files without them",
            fix: "move the settings into /etc/ssh/sshd_config.d and leave SSHD_OPTS empty, or check `sshd -T` with those options by hand")
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
