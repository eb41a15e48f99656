import Foundation

/// Every PAM service in /etc/pam.d whose auth stack runs pam_totpd: can the code be skipped,
/// can a stranger reach first-login enrollment, would the module accept its arguments.
package struct PAMCheck {
    package struct Outcome {
        package var findings: [DoctorFinding] = []
        /// The services whose auth stack runs pam_totpd.
        package var services: [String] = []
    }

    let tree: HostTree

    package init(tree: HostTree) {
        self.tree = tree
    }

    /// Modules that check what the person logging in knows or has: first factors. Every other
    /// module (pam_succeed_if, pam_access, pam_env, …) checks nothing a stranger lacks.
    private static let firstFactors: Set<String> = [
        "pam_unix.so", "pam_sss.so", "pam_krb5.so", "pam_ldap.so", "pam_winbind.so", "pam_systemd_home.so", "pam_u2f.so",
        "pam_yubico.so", "pam_google_authenticator.so", "pam_oath.so", "pam_ssh_agent_auth.so", "pam_fprintd.so", "pam_pkcs11.so",
        "pam_p11.so", "pam_radius_auth.so", "pam_tacplus.so", "pam_userdb.so", "pam_pwdfile.so",
    ]

    /// Services whose program runs PAM as the user who asks: there pam_rootok succeeds for root
    /// alone, who needs no code. Daemons such as sshd and login run PAM as root, where it
    /// succeeds for everyone.
    private static let runByTheUser: Set<String> = ["su", "su-l", "sudo", "sudo-i", "chfn", "chsh", "passwd", "newgrp", "polkit-1"]

    private static func isFirstFactor(_ line: PAMStack.Line, in stack: PAMStack) -> Bool {
        guard let name = line.systemModuleName else { return false }
        return firstFactors.contains(name) || (name == "pam_rootok.so" && runByTheUser.contains(stack.service))
    }

    package func run() -> Outcome {
        var outcome = Outcome()
        let directory = tree.path("/etc/pam.d")
        let budget = PAMStackWalk.Budget()
        var unwalked: [String] = []
        let names = serviceNames(reporting: &outcome.findings)
        // The services whose file gives auth lines: for any other (no file, a directory, only
        // account and session lines) libpam runs the auth lines of `other`.
        var withAuthLines: Set<String> = []
        var withoutAuthLines: [PAMStack] = []
        var other: PAMStack?
        var modulesChecked: Set<String> = []
        for name in names {
            let stack = PAMStack(service: name, tree: tree)
            if name == "other" { other = stack }
            if !stack.entries.isEmpty || stack.failsEveryLogin { withAuthLines.insert(name) } else { withoutAuthLines.append(stack) }
            guard !stack.codeEntries.isEmpty, !stack.failsEveryLogin else {
                // A pam_totpd.so line libpam keeps as failing, or one doctor may not have seen.
                if stack.namesCode || stack.mayHideCode || stack.failsEveryLogin { outcome.findings += stack.problems }
                continue
            }
            // libpam lowers the service name a program gives before it opens the file.
            guard !name.utf8.contains(where: { (0x41...0x5A).contains($0) }) else {
                outcome.findings.append(
                    DoctorFinding(
                        id: "pam.service-never-read", severity: .warning, subject: subject(stack), location: tree.path("/etc/pam.d/" + name),
                        message: "libpam turns service names to lower case, so no program reads \(tree.path("/etc/pam.d/" + name)), and its pam_totpd.so protects nothing",
                        fix: "name the file in lower case, as the program's service (sshd, sudo, login)"))
                continue
            }
            outcome.services.append(name)
            outcome.findings += stack.problems + argumentFindings(stack) + renamedModuleFindings(stack)
            outcome.findings += moduleOwnershipFindings(stack, skipping: &modulesChecked) + emptyPasswordFindings(stack)
            do {
                outcome.findings += try skipFindings(stack, within: budget)
                outcome.findings += try enrollmentFindings(stack, within: budget)
            } catch {
                unwalked.append(name)
            }
        }
        if !unwalked.isEmpty { outcome.findings.append(walkLimit(unwalked, in: directory)) }
        // libpam loads every module of `other`, of every type, for every service, and a service
        // without auth lines of its own runs other's: their files and modules are part of each login.
        if !outcome.services.isEmpty {
            let loadedToo = outcome.services.contains("other") ? withoutAuthLines : (other.map { [$0] } ?? [])
            for stack in loadedToo {
                outcome.findings += stack.problems.filter { $0.id == "pam.untrusted-file" } + moduleOwnershipFindings(stack, skipping: &modulesChecked)
            }
        }
        // Without its own file, sshd's logins run `other`: sshd's settings matter then too.
        if outcome.services.contains("other") && !withAuthLines.contains("sshd") { outcome.services.append("sshd") }
        if outcome.services.isEmpty && outcome.findings.isEmpty {
            outcome.findings.append(
                DoctorFinding(
                    id: "pam.unused", severity: .warning, subject: "PAM", location: directory,
                    message: "no PAM service in \(directory) runs pam_totpd.so: no login asks for a code",
                    fix: "add `auth required pam_totpd.so` after the password in each service to protect (docs/OPERATIONS.md, \"Adding the second factor to a PAM service\")"))
        }
        return outcome
    }

    private func subject(_ stack: PAMStack) -> String { "PAM service \(stack.service)" }

    /// The services of /etc/pam.d and of the distribution's /usr/lib/pam.d, where libpam looks
    /// for a service /etc/pam.d lacks. Whoever may add a name to either gives a service without
    /// a file one.
    private func serviceNames(reporting findings: inout [DoctorFinding]) -> [String] {
        var names: Set<String> = []
        for hostDirectory in PAMStack.directories {
            let directory = tree.path(hostDirectory)
            if let owner = tree.ownershipProblem(of: hostDirectory, listed: true) {
                findings.append(
                    DoctorFinding(
                        id: "pam.untrusted-file", severity: .error, subject: "PAM", location: directory,
                        message: "\(owner): whoever can write in it sets up any service's auth stack",
                        fix: "chown root \(directory) and chmod 755 it, and the directories above it likewise"))
            }
            do {
                names.formUnion(try tree.entries(of: hostDirectory).filter { !$0.hasPrefix(".") })
            } catch .missing {
                continue
            } catch {
                findings.append(
                    DoctorFinding(
                        id: "pam.unreadable", severity: .error, subject: "PAM", location: directory,
                        message: "\(directory) \(error), so no PAM service in it is checked", fix: "rename what doctor cannot read, and run doctor as root"))
            }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// A module runs as root inside the login: whoever can change its file decides the login,
    /// and more; and so does whoever can change the program a script's `#!` line names. Each
    /// file is judged once, where it is first loaded.
    private func moduleOwnershipFindings(_ stack: PAMStack, skipping checked: inout Set<String>) -> [DoctorFinding] {
        stack.modules.compactMap { module in
            guard checked.insert(module.location + " " + module.file).inserted else { return nil }
            let owner =
                module.file.hasPrefix("/")
                ? ownershipProblem(running: module.file)
                : "\(module.file) is named without a path, so it is found from the working directory of whatever logs in, which for su and sudo the user logging in chooses"
            guard let owner else { return nil }
            return DoctorFinding(
                id: "pam.untrusted-module", severity: .error, subject: subject(stack), location: module.location,
                message: "\(owner): whoever can change \(tree.path(module.file)), which this line runs as root in every login of \(stack.service), decides whether the login succeeds",
                fix: "install modules and programs in root's directories (\(PAMStack.moduleDirectory), /usr/local/sbin) as root's files writable by no one else, and name them there by their whole path")
        }
    }

    /// The owner problem of a file run, or of what its `#!` line runs in turn: the interpreter
    /// and the file its one argument names (the kernel follows four such lines).
    private func ownershipProblem(running file: String, depth: Int = 0) -> String? {
        if let owner = tree.ownershipProblem(of: file) { return owner }
        guard depth < 5, let (interpreter, argument) = tree.interpreter(of: file) else { return nil }
        for run in [interpreter] + PAMStack.script(run: interpreter, with: argument.map { [$0] } ?? []) {
            // The kernel finds a relative one from the working directory of the login.
            guard run.hasPrefix("/") else { return "the #! line of \(tree.path(file)) names \(run) without a path, which is found from the working directory of whatever logs in" }
            if let problem = ownershipProblem(running: run, depth: depth + 1) { return problem }
        }
        return nil
    }

    /// Doctor takes a module named pam_totpd… for the code, but a copy under another name or
    /// in another directory is not the one the package installs and upgrades, nor perhaps the code.
    private func renamedModuleFindings(_ stack: PAMStack) -> [DoctorFinding] {
        stack.codeEntries.filter { $0.line.systemModuleName != "pam_totpd.so" }.map { entry in
            DoctorFinding(
                id: "pam.module-renamed", severity: .warning, subject: subject(stack), location: entry.line.location,
                message: "\(entry.line.module) is checked as pam_totpd.so by its name, but it is not the module the package installs and upgrades in \(PAMStack.moduleDirectory)",
                fix: "name the packaged module: `pam_totpd.so`")
        }
    }

    private func argumentFindings(_ stack: PAMStack) -> [DoctorFinding] {
        stack.codeEntries.compactMap { entry in
            PAMModuleArguments.problem(in: entry.line.arguments).map { problem in
                DoctorFinding(
                    id: "pam.module-argument", severity: .error, subject: subject(stack), location: entry.line.location,
                    message: "pam_totpd.so refuses its arguments (\(problem)) with PAM_SERVICE_ERR: every login of \(stack.service) fails",
                    fix: "correct or remove the argument; pam_totpd(8) lists them: \(PAMModuleArguments.names.joined(separator: " "))")
            }
        }
    }

    /// pam_totpd.so returned anything but success or ignore (which it returns only for an
    /// account the admin exempts), while every other module may succeed or fail as its control
    /// allows: any walk that still logs in shows where the code is skipped.
    private func skipFindings(_ stack: PAMStack, within budget: PAMStackWalk.Budget) throws(PAMStackWalk.BudgetSpent) -> [DoctorFinding] {
        let walk = PAMStackWalk(stack) { line in
            if let fixed = Self.fixedResults(line) { return fixed }
            if line.isCodeModule { return line.control.distinctResults(Self.codeFailures) }
            switch line.systemModuleName {
            case "pam_rootok.so" where Self.runByTheUser.contains(stack.service): return [.authErr]
            // With a keyword, what no success or failure reaches no value reaches: ignore leaves
            // the stack as it was, which a success can only improve on.
            default: return line.control.distinctResults(line.control.isKeyword ? [.success, .authErr] : PAMControl.Result.allCases)
            }
        }
        guard let paths = try walk.paths(within: budget) else { return [tooComplex(stack)] }
        // Many walks meet the same line: each finding is made once.
        var findings: [String: DoctorFinding] = [:]
        for path in paths where path.succeeded {
            if let line = path.skippedCodeAt, !path.ranCode {
                let key = (path.skippedByJump ? "jump " : "end ") + line.location
                if findings[key] == nil { findings[key] = path.skippedByJump ? jumpOver(line, stack) : endsBefore(line, stack) }
            } else if let line = path.lastCodeLine, findings["ignored " + line.location] == nil {
                findings["ignored " + line.location] = failureIgnored(line, stack)
            }
        }
        return findings.values.sorted { ($0.location ?? "", $0.id) < ($1.location ?? "", $1.id) }
    }

    private static let codeFailures = PAMControl.Result.failures.filter { $0 != .ignore }

    /// What a line returns whatever happens, on every walk: a line libpam keeps as failing,
    /// and libpam's pam_permit and pam_deny.
    private static func fixedResults(_ line: PAMStack.Line) -> [PAMControl.Result]? {
        if line.mustFail { return [.permDenied] }
        switch line.systemModuleName {
        case "pam_permit.so": return [.success]
        case "pam_deny.so": return [.authErr]
        default: return nil
        }
    }

    private func endsBefore(_ line: PAMStack.Line, _ stack: PAMStack) -> DoctorFinding {
        DoctorFinding(
            id: "pam.sufficient-before-code", severity: .error, subject: subject(stack), location: line.location,
            message: "`\(line.text)` ends the stack when \(line.moduleName) succeeds, before pam_totpd.so runs: \(line.moduleName) alone logs in to \(stack.service)",
            fix: "make it `requisite` (or with a [...] control, success=ok instead of success=done), or move the pam_totpd.so line above it")
    }

    private func jumpOver(_ line: PAMStack.Line, _ stack: PAMStack) -> DoctorFinding {
        let code = stack.codeEntries.map(\.line.location).joined(separator: ", ")
        return DoctorFinding(
            id: "pam.jump-over-code", severity: .error, subject: subject(stack), location: line.location,
            message: "`\(line.text)` jumps over pam_totpd.so (\(code)): a login of \(stack.service) that takes the jump is never asked for the code",
            fix: "lower the jump so it lands on or before the pam_totpd.so line, or move pam_totpd.so above \(line.location)")
    }

    private func failureIgnored(_ line: PAMStack.Line, _ stack: PAMStack) -> DoctorFinding {
        DoctorFinding(
            id: "pam.code-failure-ignored", severity: .error, subject: subject(stack), location: line.location,
            message: "pam_totpd.so is `\(line.control.text)` here: with a wrong code, a lockout or the daemon down the login of \(stack.service) goes on and can succeed without the code",
            fix: "use `auth required pam_totpd.so` after the password, or as the last auth lines `auth [success=done ignore=ignore default=die] pam_totpd.so` then `auth required pam_permit.so`")
    }

    /// Every first factor fails, in any way its control tells apart, and every other module may
    /// succeed: whoever still reaches
    /// `unenrolled=enroll` sets up the second factor of an account whose password they do not know.
    private func enrollmentFindings(_ stack: PAMStack, within budget: PAMStackWalk.Budget) throws(PAMStackWalk.BudgetSpent) -> [DoctorFinding] {
        guard stack.codeEntries.contains(where: { $0.line.arguments.contains("unenrolled=enroll") }) else { return [] }
        let walk = PAMStackWalk(stack) { line in
            if let fixed = Self.fixedResults(line) { return fixed }
            // With a keyword, failures act alike but for ignore, which `requisite` passes over.
            let failures = line.control.isKeyword ? [.authErr, .ignore] : PAMControl.Result.failures
            return line.control.distinctResults(Self.isFirstFactor(line, in: stack) ? failures : [.success] + failures)
        }
        guard let paths = try walk.paths(within: budget) else { return [tooComplex(stack)] }
        var findings: [String: DoctorFinding] = [:]
        for path in paths {
            for (code, before) in path.reached where code.arguments.contains("unenrolled=enroll") && findings[code.location] == nil {
                let factors = before.filter { Self.isFirstFactor($0, in: stack) }
                // sshd's first factor is the key, when AuthenticationMethods asks for it first (SSHDCheck).
                if factors.isEmpty && stack.service == "sshd" { continue }
                let why =
                    factors.isEmpty
                    ? "nothing before it checks a first factor"
                    : "a failed " + factors.map { "`\($0.text)` (\($0.location))" }.joined(separator: ", ") + " does not end the stack"
                findings[code.location] = DoctorFinding(
                    id: "pam.enroll-without-first-factor", severity: .error, subject: subject(stack), location: code.location,
                    message: "unenrolled=enroll is reached without the password: \(why), so someone who does not know it sets up the second factor of an account without one",
                    fix: "check the password first with `requisite` (Debian's common-auth: `[success=1 default=ignore] pam_unix.so`, `requisite pam_deny.so`, `required pam_permit.so`), or drop unenrolled=enroll")
            }
        }
        return findings.values.sorted { ($0.location ?? "") < ($1.location ?? "") }
    }

    /// pam_unix's nullok passes an account whose password is empty without asking for one: such
    /// an account reaches first-login enrollment with nothing known, and whoever logs in first
    /// sets up its second factor. Doctor does not read /etc/shadow: accounts change after it ran.
    private func emptyPasswordFindings(_ stack: PAMStack) -> [DoctorFinding] {
        stack.entries.indices.compactMap { index in
            let code = stack.entries[index].line
            guard code.isCodeModule, code.arguments.contains("unenrolled=enroll"),
                let unix = stack.entries[..<index].lazy.map(\.line).first(where: { line in
                    line.moduleName == "pam_unix.so" && line.arguments.contains { $0 == "nullok" || $0 == "nullok_secure" }
                })
            else { return nil }
            return DoctorFinding(
                id: "pam.enroll-after-nullok", severity: .warning, subject: subject(stack), location: code.location,
                message: "`\(unix.text)` (\(unix.location)) lets an account with an empty password in without one, so for such an account anyone reaches unenrolled=enroll and sets up its second factor",
                fix: "drop nullok from that pam_unix.so line (on Debian, in common-auth), or lock every account without a password (passwd -l NAME)")
        }
    }

    private func walkLimit(_ services: [String], in directory: String) -> DoctorFinding {
        let named = services.prefix(10).joined(separator: ", ") + (services.count > 10 ? " and \(services.count - 10) more" : "")
        return DoctorFinding(
            id: "pam.check-limit", severity: .error, subject: "PAM", location: directory,
            message: "doctor took the \(PAMStackWalk.Budget.steps / 1_000_000) million steps a run may take following auth stacks before it walked \(named): whether a login of those can skip the code is not checked",
            fix: "check those services by hand, or run doctor on a tree with fewer services that run pam_totpd.so")
    }

    /// A warning, not a note: a stack doctor cannot follow may well skip the code.
    private func tooComplex(_ stack: PAMStack) -> DoctorFinding {
        DoctorFinding(
            id: "pam.too-complex", severity: .warning, subject: subject(stack), location: tree.path("/etc/pam.d/" + stack.service),
            message: "the auth stack of \(stack.service) has more than \(PAMStackWalk.maxPaths) ways through it: doctor did not check whether one of them skips the code",
            fix: "check it by hand, or make fewer of its lines optional or sufficient")
    }
}
