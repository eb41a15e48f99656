import Foundation

/// Accounts the policy says must give a code but that have no active enrollment: their logins
/// are refused (or, with unenrolled=enroll, set up at the first one).
package struct EnrollmentCoverageCheck {
    let tree: HostTree
    let policy: SecondFactorPolicy
    /// The accounts whose enrollment is active, from the daemon.
    let enrolled: Set<String>

    package init(tree: HostTree, policy: SecondFactorPolicy, enrolled: Set<String>) {
        self.tree = tree
        self.policy = policy
        self.enrolled = enrolled
    }

    private struct Account {
        var name: String
        var uid: String
        var gid: String
        var shell: String
    }

    package func run() async -> [DoctorFinding] {
        let passwd: String
        do {
            passwd = try tree.read("/etc/passwd")
        } catch .missing {
            return [.skipped("enrollment.skipped", subject: "enrollments", because: "\(tree.path("/etc/passwd")) does not exist, so no account was checked")]
        } catch {
            return [unreadable("/etc/passwd", error, "no account was checked")]
        }
        var findings: [DoctorFinding] = []
        let accounts = Self.records(passwd).compactMap { fields in
            fields.count >= 7 ? Account(name: fields[0], uid: fields[2], gid: fields[3], shell: fields[6]) : nil
        }
        // Group name → (gid, members), for `%group` entries of the policy.
        var groups: [String: (gid: String, members: Set<String>)] = [:]
        var group = ""
        do {
            group = try tree.read("/etc/group")
        } catch .missing {
        } catch {
            findings.append(unreadable("/etc/group", error, "the accounts the policy requires by `%group` were not checked"))
        }
        for fields in Self.records(group) where fields.count >= 4 {
            groups[fields[0]] = (fields[2], Set(fields[3].split(separator: ",").map(String.init)))
        }
        let named = Set(policy.required.filter { $0 != "*" && !$0.hasPrefix("%") })
        let shells = tree.contents(of: "/etc/shells").map(Self.loginShells)
        for account in accounts where Self.canLogIn(account.shell, shells: shells) || named.contains(account.name) {
            guard !enrolled.contains(account.name) else { continue }
            // The group lookups here read the tree's files and cannot fail.
            let required = await (try? policy.requiresCode(user: account.name) { group in
                groups[group].map { $0.gid == account.gid || $0.members.contains(account.name) } ?? false
            }) ?? false
            guard required else { continue }
            findings.append(
                DoctorFinding(
                    id: "enrollment.missing", severity: .warning, subject: "account \(account.name)",
                    message: "\(account.name) must give a code (second_factor.required) but has no active enrollment: "
                        + "logins that ask for a code refuse them, or set it up at the first one where unenrolled=enroll",
                    fix: "totpctl enroll \(account.name) (\(account.uid == "0" ? "as root" : "as \(account.name), or as root for them")), "
                        + "or list them in second_factor.exempt"))
        }
        return findings
    }

    /// A warning, not a note: the accounts not checked may be missing their enrollment.
    private func unreadable(_ file: String, _ error: HostTree.Unreadable, _ consequence: String) -> DoctorFinding {
        DoctorFinding(
            id: "enrollment.unreadable", severity: .warning, subject: "enrollments", location: tree.path(file),
            message: "\(tree.path(file)) \(error), so \(consequence)", fix: "make it a regular UTF-8 file that root can read, and run doctor as root")
    }

    /// A shell that lets the account log in: one of /etc/shells where the tree has that list
    /// (Debian's `sync`, whose shell is /bin/sync, is not), else anything but nologin and false.
    private static func canLogIn(_ shell: String, shells: Set<String>?) -> Bool {
        if let shells { return shells.contains(shell) }
        return !shell.isEmpty && !shell.hasSuffix("/nologin") && !shell.hasSuffix("/false")
    }

    /// The shells as glibc's getusershell reads the file: a line's path starts at its first `/`
    /// (unless a `#` comes first) and ends at white space or `#`.
    static func loginShells(_ text: String) -> Set<String> {
        Set(
            lines(text).compactMap { line in
                guard let start = line.firstIndex(where: { $0 == "/" || $0 == "#" }), line[start] == "/" else { return nil }
                return String(line[start...].prefix { !$0.isWhitespace && $0 != "#" })
            })
    }

    /// The colon-separated records of a passwd or group file.
    private static func records(_ text: String) -> [[String]] {
        lines(text).filter { !$0.hasPrefix("#") }.map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
    }

    /// Lines as glibc reads them, at newline bytes: a carriage return stays in its line.
    private static func lines(_ text: String) -> [Substring] {
        text.unicodeScalars.split(separator: "\n").map(Substring.init)
    }
}
