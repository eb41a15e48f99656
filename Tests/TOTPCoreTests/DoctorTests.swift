import Foundation
import Testing
import pam_totpd

@testable import TOTPCore

/// A host tree in a temporary directory: the shipped PAM and sshd files, Debian's common-auth,
/// a private state directory; each test breaks one thing in it.
private final class DoctorTree {
    let directory: TemporaryDirectory
    var root: String { directory.path }
    /// The test's own files count as root's, so that it may run as any user.
    var tree: HostTree { HostTree(root: root, trusting: geteuid()) }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    init() throws {
        directory = try TemporaryDirectory()
        chmod(root, 0o755)
        try write("/etc/totpd/totpd.conf", "issuer: doctor-test\n", mode: 0o644)
        try FileManager.default.createDirectory(atPath: root + "/var/lib/totpd", withIntermediateDirectories: true)
        chmod(root + "/var/lib/totpd", 0o700)
        try write("/var/lib/totpd/secret.key", String(repeating: "k", count: 32), mode: 0o600)
        try write("/var/lib/totpd/totpd.sqlite", "", mode: 0o600)
        try write(
            "/etc/pam.d/common-auth",
            """
            auth	[success=1 default=ignore]	pam_unix.so nullok
            auth	requisite			pam_deny.so
            auth	required			pam_permit.so

            """)
        for name in ["common-account", "common-session", "common-session-noninteractive"] {
            try write("/etc/pam.d/" + name, "\(name.hasPrefix("common-account") ? "account" : "session") required pam_permit.so\n")
        }
        try write("/etc/pam.d/sudo", try shipped("config/pam.d/sudo"))
        try write("/etc/pam.d/sshd", try shipped("config/pam.d/sshd"))
        try write("/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\n")
        try write("/etc/ssh/sshd_config.d/totpd.conf", try shipped("config/sshd_config.d/totpd.conf"))
        try write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
        try write("/etc/group", "root:x:0:\nnogroup:x:65534:\n")
    }

    private func shipped(_ path: String) throws -> String {
        try String(contentsOf: Self.repository.appendingPathComponent(path), encoding: .utf8)
    }

    func write(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        let full = root + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
        chmod(full, mode)
    }

    func findings() async -> [DoctorFinding] { await Doctor(tree: tree).run() }

    /// The findings that are problems, not notes.
    func problems() async -> [DoctorFinding] { await findings().filter { $0.severity != .note } }
}

@Suite struct DoctorTests {
    @Test func aCleanTreeHasNoProblemAndExitsZero() async throws {
        let host = try DoctorTree()
        let findings = await host.findings()
        #expect(findings.filter { $0.severity != .note } == [])
        #expect(Doctor.exitStatus(findings) == 0)
        // What a tree cannot show is said, not passed over.
        #expect(Set(findings.map(\.id)) == ["daemon.skipped", "clock.skipped", "enrollment.skipped"])
    }

    /// One problem, where it is written, with the fix that names what to change.
    private func expectOnly(
        _ id: String, at location: String, fixMentions fix: String, in host: DoctorTree, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        let problems = await host.problems()
        #expect(problems.map(\.id) == [id], "\(problems)", sourceLocation: sourceLocation)
        #expect(problems.first?.location == host.root + location, sourceLocation: sourceLocation)
        #expect(problems.first?.fix.contains(fix) == true, "\(problems.first?.fix ?? "")", sourceLocation: sourceLocation)
        #expect(Doctor.exitStatus(problems) == 1, sourceLocation: sourceLocation)
    }

    /// A tree broken by rewriting files, and the one finding that shows it.
    struct Breakage: Sendable, CustomTestStringConvertible {
        var what: String
        var files: [String: String]
        var id: String
        var location: String
        var fix: String
        var testDescription: String { what }
    }

    static let breakages = [
        Breakage(
            what: "a sufficient password before the code logs in alone",
            files: ["/etc/pam.d/common-auth": "auth sufficient pam_unix.so nullok\nauth requisite pam_deny.so\n"],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/common-auth:1", fix: "requisite"),
        Breakage(
            what: "an optional code is no second factor",
            files: ["/etc/pam.d/sudo": "@include common-auth\nauth optional pam_totpd.so\n"],
            id: "pam.code-failure-ignored", location: "/etc/pam.d/sudo:2", fix: "auth required pam_totpd.so"),
        Breakage(
            what: "a jump over the code",
            files: [
                "/etc/pam.d/common-auth": "auth [success=3 default=ignore] pam_unix.so\nauth requisite pam_deny.so\nauth required pam_permit.so\n",
                "/etc/pam.d/sudo": "@include common-auth\nauth required pam_totpd.so\nauth required pam_permit.so\n",
            ],
            id: "pam.jump-over-code", location: "/etc/pam.d/common-auth:1", fix: "lower the jump"),
        Breakage(
            what: "sshd without PAM",
            files: ["/etc/ssh/sshd_config.d/totpd.conf": "UsePAM no\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\n"],
            id: "sshd.usepam", location: "/etc/ssh/sshd_config.d/totpd.conf:1", fix: "UsePAM yes"),
        Breakage(
            what: "sshd without keyboard-interactive, by its old name",
            files: ["/etc/ssh/sshd_config.d/totpd.conf": "UsePAM yes\nChallengeResponseAuthentication no\nAuthenticationMethods publickey,keyboard-interactive\n"],
            id: "sshd.keyboard-interactive", location: "/etc/ssh/sshd_config.d/totpd.conf:2", fix: "KbdInteractiveAuthentication yes"),
        // Controls keyed on values other than success and auth_err: each value a control names is followed.
        Breakage(
            what: "a jump on PAM_IGNORE, which pam_env returns",
            files: ["/etc/pam.d/sudo": "@include common-auth\nauth [ignore=1 default=ok] pam_env.so\nauth required pam_totpd.so\n"],
            id: "pam.jump-over-code", location: "/etc/pam.d/sudo:2", fix: "lower the jump"),
        Breakage(
            what: "a jump when the directory is down",
            files: ["/etc/pam.d/sudo": "@include common-auth\nauth [success=ok authinfo_unavail=1 default=bad] pam_sss.so\nauth required pam_totpd.so\n"],
            id: "pam.jump-over-code", location: "/etc/pam.d/sudo:2", fix: "lower the jump"),
        Breakage(
            what: "a code whose failed prompt is ignored",
            files: ["/etc/pam.d/sudo": "@include common-auth\nauth [success=ok auth_err=die authinfo_unavail=die maxtries=die default=ignore] pam_totpd.so\n"],
            id: "pam.code-failure-ignored", location: "/etc/pam.d/sudo:2", fix: "auth required pam_totpd.so"),
        // Lines as libpam splits bytes, not as Swift joins characters.
        Breakage(
            what: "a carriage return after a comment ends its line",
            files: ["/etc/pam.d/sudo": "@include common-auth #\r\nauth sufficient pam_permit.so\nauth required pam_totpd.so\n"],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/sudo:2", fix: "requisite"),
        Breakage(
            what: "a combining mark does not hide the comment sign",
            files: ["/etc/pam.d/sudo": "@include common-auth #\u{301} \\\nauth sufficient pam_permit.so\nauth required pam_totpd.so\n"],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/sudo:2", fix: "requisite"),
        // The forms libpam takes that a reader of pam.conf(5) might not.
        Breakage(
            what: "@Include in capitals",
            files: ["/etc/pam.d/sudo": "@Include evil\nauth required pam_totpd.so\n", "/etc/pam.d/evil": "auth sufficient pam_permit.so\n"],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/evil:1", fix: "requisite"),
        Breakage(
            what: "-@include",
            files: ["/etc/pam.d/sudo": "-@include evil\nauth required pam_totpd.so\n", "/etc/pam.d/evil": "auth sufficient pam_permit.so\n"],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/evil:1", fix: "requisite"),
        Breakage(
            what: "the first of two defaults",
            files: ["/etc/pam.d/sudo": "auth required pam_permit.so\nauth [success=ok default=1 default=die] pam_deny.so\nauth required pam_totpd.so\n"],
            id: "pam.jump-over-code", location: "/etc/pam.d/sudo:2", fix: "lower the jump"),
        Breakage(
            what: "pam_rootok under sshd, which runs PAM as root",
            files: ["/etc/pam.d/sshd": "auth sufficient pam_rootok.so\n@include common-auth\nauth required pam_totpd.so\n"],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/sshd:1", fix: "requisite"),
        Breakage(
            what: "pam_succeed_if is no first factor",
            files: ["/etc/pam.d/sudo": "auth [success=ok default=die] pam_succeed_if.so uid >= 1000 quiet\nauth required pam_totpd.so unenrolled=enroll\n"],
            id: "pam.enroll-without-first-factor", location: "/etc/pam.d/sudo:2", fix: "requisite"),
        Breakage(
            what: "Match all with a comment applies to every login",
            files: ["/etc/ssh/sshd_config.d/totpd.conf": "UsePAM yes\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\nMatch all # everyone\nAuthenticationMethods publickey\n"],
            id: "sshd.authentication-methods", location: "/etc/ssh/sshd_config.d/totpd.conf:5", fix: "keyboard-interactive"),
        Breakage(
            what: "a Match block that lets some logins in with a key alone",
            files: ["/etc/ssh/sshd_config.d/totpd.conf": "UsePAM yes\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\nMatch User alice\n  AuthenticationMethods publickey\n"],
            id: "sshd.match-override", location: "/etc/ssh/sshd_config.d/totpd.conf:5", fix: "sshd -T -C"),
        Breakage(
            what: "a service file in capitals, which libpam never opens",
            files: ["/etc/pam.d/SUDO": "@include common-auth\nauth required pam_totpd.so\n"],
            id: "pam.service-never-read", location: "/etc/pam.d/SUDO", fix: "lower case"),
        // sshd's reading of its files, and the ways in that do not run PAM.
        Breakage(
            what: "a quoted keyword",
            files: ["/etc/ssh/sshd_config.d/totpd.conf": "UsePAM yes\nKbdInteractiveAuthentication yes\n\"AuthenticationMethods\" publickey\nAuthenticationMethods publickey,keyboard-interactive\n"],
            id: "sshd.authentication-methods", location: "/etc/ssh/sshd_config.d/totpd.conf:3", fix: "keyboard-interactive"),
        Breakage(
            what: "GSSAPI logs in without PAM",
            files: ["/etc/ssh/sshd_config.d/totpd.conf": "UsePAM yes\nKbdInteractiveAuthentication yes\nPubkeyAuthentication no\nGSSAPIAuthentication yes\n"],
            id: "sshd.authentication-methods", location: "/etc/ssh/sshd_config", fix: "keyboard-interactive"),
        Breakage(
            what: "a Match block that turns keys back on",
            files: ["/etc/ssh/sshd_config.d/totpd.conf": "UsePAM yes\nKbdInteractiveAuthentication yes\nPubkeyAuthentication no\nMatch User bob\n  PubkeyAuthentication yes\n"],
            id: "sshd.match-override", location: "/etc/ssh/sshd_config.d/totpd.conf:5", fix: "sshd -T -C"),
        Breakage(
            what: "a NUL joins the next line to a comment",
            files: ["/etc/ssh/sshd_config.d/totpd.conf": "UsePAM yes\nKbdInteractiveAuthentication yes\n#\0\nAuthenticationMethods publickey,keyboard-interactive\n"],
            id: "sshd.authentication-methods", location: "/etc/ssh/sshd_config", fix: "keyboard-interactive"),
        Breakage(
            what: "a backslash in an Include escapes as in glob",
            files: [
                "/etc/ssh/sshd_config": "Include /etc/ssh/x/a\\b.conf\nInclude /etc/ssh/sshd_config.d/*.conf\n",
                "/etc/ssh/x/ab.conf": "AuthenticationMethods publickey\n",
            ],
            id: "sshd.authentication-methods", location: "/etc/ssh/x/ab.conf:1", fix: "keyboard-interactive"),
        Breakage(
            what: "Include matches in byte order",
            files: ["/etc/ssh/sshd_config.d/e\u{301}.conf": "AuthenticationMethods publickey\n", "/etc/ssh/sshd_config.d/f.conf": "AuthenticationMethods keyboard-interactive\n"],
            id: "sshd.authentication-methods", location: "/etc/ssh/sshd_config.d/e\u{301}.conf:1", fix: "keyboard-interactive"),
        Breakage(
            what: "an Include that starts with a tilde is taken from /",
            files: ["/etc/ssh/sshd_config": "Include ~a.conf\nInclude /etc/ssh/sshd_config.d/*.conf\n", "/~a.conf": "AuthenticationMethods publickey\n"],
            id: "sshd.authentication-methods", location: "/~a.conf:1", fix: "keyboard-interactive"),
        Breakage(
            what: "a stack too complex to follow is a warning",
            files: ["/etc/pam.d/sudo": "@include common-auth\n" + String(repeating: "auth optional pam_env.so\n", count: 17) + "auth required pam_totpd.so\n"],
            id: "pam.too-complex", location: "/etc/pam.d/sudo", fix: "check it by hand"),
        // libpam takes the brackets off every word before it reads the word (_pam_StrTok).
        Breakage(
            what: "a control without brackets",
            files: ["/etc/pam.d/sudo": "auth success=done pam_permit.so\nauth required pam_totpd.so\n"],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/sudo:1", fix: "requisite"),
        Breakage(
            what: "a keyword in brackets",
            files: ["/etc/pam.d/sudo": "auth [Sufficient] pam_permit.so\nauth required pam_totpd.so\n"],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/sudo:1", fix: "requisite"),
        Breakage(
            what: "blanks around = and none between pairs",
            files: ["/etc/pam.d/sudo": "auth [default=bad\u{0B}success = done] pam_permit.so\nauth required pam_totpd.so\n"],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/sudo:1", fix: "requisite"),
        Breakage(
            what: "pairs run together",
            files: ["/etc/pam.d/sudo": "auth [default=badsuccess=done] pam_permit.so\nauth required pam_totpd.so\n"],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/sudo:1", fix: "requisite"),
        Breakage(
            what: "the module in brackets",
            files: ["/etc/pam.d/sudo": "auth sufficient pam_permit.so\nauth required [pam_totpd.so]\n"],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/sudo:1", fix: "requisite"),
        Breakage(
            what: "a renamed copy of the module",
            files: ["/etc/pam.d/sudo": "@include common-auth\nauth required /lib/x86_64-linux-gnu/security/pam_totpd.so.1\n"],
            id: "pam.module-renamed", location: "/etc/pam.d/sudo:2", fix: "pam_totpd.so"),
        // A jump is summed in a C int: past 2^31 it wraps, to an action or another jump.
        Breakage(
            what: "a jump that wraps to done",
            files: ["/etc/pam.d/sudo": "auth [success=4294967294 default=die] pam_permit.so\nauth required pam_totpd.so\nauth required pam_permit.so\n"],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/sudo:1", fix: "requisite"),
        Breakage(
            what: "a jump that wraps to 1",
            files: ["/etc/pam.d/sudo": "auth [success=4294967297 default=die] pam_permit.so\nauth required pam_totpd.so\nauth required pam_permit.so\n"],
            id: "pam.jump-over-code", location: "/etc/pam.d/sudo:1", fix: "lower the jump"),
        // A module libpam cannot name stops it reading the file; the include then fails.
        Breakage(
            what: "a module named only by its extension ends an include",
            files: [
                "/etc/pam.d/sudo": "auth [success=2 default=die] pam_permit.so\nauth include /etc/pam.d/cut\nauth required pam_permit.so\n",
                "/etc/pam.d/cut": "auth required /x/.so\nauth required pam_permit.so\nauth required pam_totpd.so\n",
            ],
            id: "pam.syntax", location: "/etc/pam.d/cut:1", fix: "name the module's file"),
        Breakage(
            what: "a module ending in a slash, on an account line, ends the service's file",
            files: ["/etc/pam.d/sudo": "@include common-auth\naccount required pam_env.so/\nauth required pam_totpd.so\n"],
            id: "pam.syntax", location: "/etc/pam.d/sudo:2", fix: "name the module's file"),
        // libpam looks in /usr/lib/pam.d for what /etc/pam.d lacks.
        Breakage(
            what: "a service of the distribution's directory",
            files: ["/usr/lib/pam.d/login": "auth sufficient pam_permit.so\n@include common-auth\nauth required pam_totpd.so\n"],
            id: "pam.sufficient-before-code", location: "/usr/lib/pam.d/login:1", fix: "requisite"),
        // An include it looks for in /etc/pam.d alone: what a jump passes over is one failing line.
        Breakage(
            what: "an include only in the distribution's directory",
            files: [
                "/etc/pam.d/sudo": "auth [success=1 default=die] pam_permit.so\nauth include vendor-auth\nauth required pam_permit.so\n",
                "/usr/lib/pam.d/vendor-auth": "auth required pam_totpd.so\nauth required pam_totpd.so\n",
            ],
            id: "pam.include-missing", location: "/etc/pam.d/sudo:2", fix: "create /"),
        // libpam 1.5 follows includes with no limit, and fails the 16th substack.
        Breakage(
            what: "the code below includes 16 deep",
            files: chain("/etc/chain/", "include", 16, bottom: "auth optional pam_totpd.so\nauth required pam_permit.so\n"),
            id: "pam.include-depth", location: "/etc/chain/15:1", fix: "fewer levels"),
        Breakage(
            what: "the code below substacks 15 deep",
            files: chain("/etc/chain/", "substack", 15, bottom: "auth optional pam_totpd.so\nauth required pam_permit.so\n"),
            id: "pam.code-failure-ignored", location: "/etc/chain/15:1", fix: "required"),
        Breakage(
            what: "the code below substacks 16 deep",
            files: chain("/etc/chain/", "substack", 16, bottom: "auth required pam_totpd.so\n"),
            id: "pam.substack-depth", location: "/etc/chain/15:1", fix: "nest fewer"),
        // A code line libpam keeps as failing is a line a jump passes over.
        Breakage(
            what: "the code line of a type libpam does not know",
            files: ["/etc/pam.d/sudo": "auth [success=1 default=die] pam_permit.so\n[auth ] required pam_totpd.so\nauth required pam_permit.so\n"],
            id: "pam.syntax", location: "/etc/pam.d/sudo:2", fix: "write auth, account"),
        Breakage(
            what: "the code as the control of a line without a module",
            files: ["/etc/pam.d/sudo": "auth [success=1 default=die] pam_permit.so\nauth pam_totpd.so\nauth required pam_permit.so\n"],
            id: "pam.syntax", location: "/etc/pam.d/sudo:2", fix: "write TYPE CONTROL MODULE"),
        Breakage(
            what: "an include whose name ends in a vertical tab",
            files: [
                "/etc/pam.d/sudo": "auth [success=1 default=die] pam_permit.so\nauth include /etc/extra/code\u{0B}\nauth required pam_permit.so\n",
                "/etc/extra/code": "auth required pam_totpd.so\n",
            ],
            id: "pam.include-missing", location: "/etc/pam.d/sudo:2", fix: "create /"),
        Breakage(
            what: "the code after a vertical tab, which is no blank to libpam",
            files: ["/etc/pam.d/sudo": "auth [success=1 default=die] pam_permit.so\nauth required\u{0B}pam_totpd.so\nauth required pam_permit.so\n"],
            id: "pam.syntax", location: "/etc/pam.d/sudo:2", fix: "write TYPE CONTROL MODULE"),
        Breakage(
            what: "the modules below account includes 16 deep",
            files: chain("/etc/chain/", "include", 16, bottom: "account required /tmp/x.so\n", type: "account", first: "@include common-auth\nauth required pam_totpd.so\n"),
            id: "pam.include-depth", location: "/etc/chain/15:1", fix: "fewer levels"),
        // A name without a leading / is put after the security directory.
        Breakage(
            what: "a relative module that spells the security directory",
            files: ["/etc/pam.d/sudo": "auth [success=ok default=1] \(PAMStack.moduleDirectory.dropFirst())pam_permit.so\nauth required pam_totpd.so\nauth required pam_permit.so\n"],
            id: "pam.jump-over-code", location: "/etc/pam.d/sudo:1", fix: "lower the jump"),
        Breakage(
            what: "a pam_deny.so not of the security directory",
            files: [
                "/etc/pam.d/sudo": "auth [success=done default=ignore] /opt/x/pam_deny.so\nauth required pam_totpd.so\n",
                "/opt/x/pam_deny.so": "",
            ],
            id: "pam.sufficient-before-code", location: "/etc/pam.d/sudo:1", fix: "requisite"),
        Breakage(
            what: "a backslash on the file's last line",
            files: ["/etc/pam.d/sudo": "@include common-auth\nauth required pam_totpd.so \\"],
            id: "pam.syntax", location: "/etc/pam.d/sudo:2", fix: "remove the backslash"),
        // sshd's aliases and devices.
        Breakage(
            what: "Match all turns keyboard-interactive off by its old name",
            files: ["/etc/ssh/sshd_config.d/totpd.conf": "UsePAM yes\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\nMatch all\nChallengeResponseAuthentication no\n"],
            id: "sshd.keyboard-interactive", location: "/etc/ssh/sshd_config.d/totpd.conf:5", fix: "KbdInteractiveAuthentication yes"),
        Breakage(
            what: "SkeyAuthentication, another old name, comes first",
            files: ["/etc/ssh/sshd_config.d/totpd.conf": "UsePAM yes\nSkeyAuthentication no\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\n"],
            id: "sshd.keyboard-interactive", location: "/etc/ssh/sshd_config.d/totpd.conf:2", fix: "KbdInteractiveAuthentication yes"),
        Breakage(
            what: "a keyboard-interactive device Linux has not",
            files: ["/etc/ssh/sshd_config.d/totpd.conf": "UsePAM yes\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive:bsdauth\n"],
            id: "sshd.keyboard-device", location: "/etc/ssh/sshd_config.d/totpd.conf:3", fix: "keyboard-interactive"),
        // libpam runs `other` for a service whose file gives no auth line.
        Breakage(
            what: "sshd's file with account and session lines only",
            files: [
                "/etc/pam.d/sshd": "account required pam_permit.so\n@include common-session\n",
                "/etc/pam.d/other": "@include common-auth\nauth required pam_totpd.so\n",
                "/etc/ssh/sshd_config.d/totpd.conf": "UsePAM no\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\n",
            ],
            id: "sshd.usepam", location: "/etc/ssh/sshd_config.d/totpd.conf:1", fix: "UsePAM yes"),
    ]

    /// A service that includes (or substacks) `count` files of `directory` by lines of `type`,
    /// each the next, the last `bottom`; its own file starts with `first`.
    static func chain(_ directory: String, _ control: String, _ count: Int, bottom: String, type: String = "auth", first: String = "") -> [String: String] {
        var files = ["/etc/pam.d/sudo": first + "\(type) \(control) \(directory)1\n", directory + "\(count)": bottom]
        for level in 1..<count { files[directory + "\(level)"] = "\(type) \(control) \(directory)\(level + 1)\n" }
        return files
    }

    @Test(arguments: breakages) func aBrokenFileGivesItsFinding(_ breakage: Breakage) async throws {
        let host = try DoctorTree()
        for (path, text) in breakage.files { try host.write(path, text) }
        await expectOnly(breakage.id, at: breakage.location, fixMentions: breakage.fix, in: host)
    }

    /// A login follows /proc's links to its own working directory and root, not doctor's.
    @Test func nothingBelowProcIsTrusted() {
        let problem = HostTree(root: "/").ownershipProblem(of: "/etc/../proc/self/cwd/pam.d/sudo")
        #expect(problem?.contains("below /proc") == true, "\(problem ?? "nil")")
    }

    /// libpam includes the word after @include and passes over the rest; a failed @include of
    /// the service's own file stops it reading the file, and every login fails.
    @Test func anAtIncludeIsReadAsLibpamReadsIt() async throws {
        let host = try DoctorTree()
        try host.write("/etc/pam.d/sudo", "@include /etc/extra/code more\n")
        try host.write("/etc/extra/code", "auth optional pam_totpd.so\nauth required pam_permit.so\n")
        let problems = await host.problems()
        #expect(Set(problems.map(\.id)) == ["pam.syntax", "pam.code-failure-ignored"], "\(problems)")
        #expect(problems.first { $0.id == "pam.syntax" }?.severity == .warning)
        try host.write("/etc/pam.d/sudo", "@include not-there\nauth required pam_totpd.so\n")
        let failed = await host.problems()
        #expect(Set(failed.map(\.id)) == ["pam.include-missing", "pam.syntax"], "\(failed)")
        #expect(failed.contains { $0.message.contains("every login of service sudo fails") })
        // The file passed over may be the one that holds the code: the warning stays.
        for line in ["@include common-auth /etc/extra/code", "auth include common-auth /etc/extra/code"] {
            try host.write("/etc/pam.d/sudo", line + "\n")
            try host.write("/etc/extra/code", "auth required pam_totpd.so\n")
            await expectOnly("pam.syntax", at: "/etc/pam.d/sudo:1", fixMentions: "line for each file", in: host)
        }
    }

    /// A line of the module's name alone is one libpam keeps as failing, which a jump passes.
    @Test func theCodeAloneOnALineIsNamed() async throws {
        let host = try DoctorTree()
        try host.write("/etc/pam.d/sudo", "auth [success=1 default=die] pam_permit.so\npam_totpd.so\nauth required pam_permit.so\n")
        let problems = await host.problems()
        #expect(!problems.isEmpty && problems.allSatisfy { $0.id == "pam.syntax" && $0.location == host.root + "/etc/pam.d/sudo:2" }, "\(problems)")
    }

    /// On Debian 12 /lib is /usr/lib: a module named by either path is the system's.
    @Test func theSecurityDirectoryByWayOfUsr() async throws {
        let host = try DoctorTree()
        try host.write("/etc/pam.d/sudo", "auth [success=1 default=ignore] /usr\(PAMStack.moduleDirectory)/pam_unix.so\nauth requisite pam_deny.so\nauth required /usr\(PAMStack.moduleDirectory)pam_totpd.so unenrolled=enroll\n")
        #expect(await host.problems() == [])
    }

    /// An include of account lines doctor cannot read hides the modules it loads.
    @Test func anIncludeOfAnotherTypeThatIsNotTextIsNamed() async throws {
        let host = try DoctorTree()
        try host.write("/etc/pam.d/sudo", "@include common-auth\nauth required pam_totpd.so\naccount include /etc/latin\n")
        #expect(FileManager.default.createFile(atPath: host.root + "/etc/latin", contents: Data([0x23, 0xE9, 0x0A])))
        await expectOnly("pam.unreadable", at: "/etc/pam.d/sudo:3", fixMentions: "regular file", in: host)
    }

    @Test func anIncludeChainIsFollowedToTheCodeLine() async throws {
        let host = try DoctorTree()
        try host.write("/etc/pam.d/sudo", "@include common-auth\nauth include totpd-auth\n")
        try host.write("/etc/pam.d/totpd-auth", "@include totpd-code\n")
        try host.write("/etc/pam.d/totpd-code", "# the code\nauth [success=ok default=ignore] pam_totpd.so\n")
        let problems = await host.problems()
        // totpd-auth and totpd-code count as services too; the line is reported once for all.
        #expect(problems.map(\.id) == ["pam.code-failure-ignored"], "\(problems)")
        #expect(problems.first?.location == host.root + "/etc/pam.d/totpd-code:2")
    }

    @Test func aSubstackKeepsItsDoneInside() async throws {
        let host = try DoctorTree()
        // Included, a sufficient password ends the whole stack before the code...
        try host.write("/etc/pam.d/password-only", "auth sufficient pam_unix.so\nauth requisite pam_deny.so\n")
        try host.write("/etc/pam.d/sudo", "auth include password-only\nauth required pam_totpd.so\n")
        await expectOnly("pam.sufficient-before-code", at: "/etc/pam.d/password-only:1", fixMentions: "requisite", in: host)
        // ...as a substack it ends only the substack, and the code is still asked.
        try host.write("/etc/pam.d/sudo", "auth substack password-only\nauth required pam_totpd.so\n")
        #expect(await host.problems() == [])
        // A done inside a substack that holds the code skips it all the same.
        try host.write("/etc/pam.d/code-after-password", "auth sufficient pam_unix.so\nauth required pam_totpd.so\n")
        try host.write("/etc/pam.d/sudo", "auth substack code-after-password\nauth required pam_permit.so\n")
        await expectOnly("pam.sufficient-before-code", at: "/etc/pam.d/code-after-password:1", fixMentions: "requisite", in: host)
    }

    @Test func enrollmentAfterAnOptionalPasswordLetsStrangersEnroll() async throws {
        let host = try DoctorTree()
        try host.write("/etc/pam.d/sudo", "auth optional pam_unix.so\nauth required pam_totpd.so unenrolled=enroll\n")
        await expectOnly("pam.enroll-without-first-factor", at: "/etc/pam.d/sudo:2", fixMentions: "requisite", in: host)
        // Behind Debian's common-auth, a wrong password ends the stack first; but its nullok lets
        // an account with an empty password through without one.
        try host.write("/etc/pam.d/sudo", "@include common-auth\nauth required pam_totpd.so unenrolled=enroll\n")
        await expectOnly("pam.enroll-after-nullok", at: "/etc/pam.d/sudo:2", fixMentions: "nullok", in: host)
        try host.write("/etc/pam.d/common-auth", "auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\nauth required pam_permit.so\n")
        #expect(await host.problems() == [])
        // `required` goes on after a failure: the enrollment still runs.
        try host.write("/etc/pam.d/sudo", "auth required pam_unix.so\nauth required pam_totpd.so unenrolled=enroll\n")
        await expectOnly("pam.enroll-without-first-factor", at: "/etc/pam.d/sudo:2", fixMentions: "requisite", in: host)
    }

    @Test func anArgumentTheModuleRefuses() async throws {
        let host = try DoctorTree()
        try host.write("/etc/pam.d/sudo", "@include common-auth\nauth required pam_totpd.so [prompt=Your code: ] timeout=90\n")
        await expectOnly("pam.module-argument", at: "/etc/pam.d/sudo:2", fixMentions: "timeout=", in: host)
        let message = await host.problems().first?.message ?? ""
        #expect(message.contains("timeout must be a whole number of seconds from 1 to 60"), "\(message)")
    }

    @Test func sshdLettingAKeyAloneIn() async throws {
        let host = try DoctorTree()
        try host.write("/etc/ssh/sshd_config.d/totpd.conf", "UsePAM yes\nKbdInteractiveAuthentication yes\n")
        await expectOnly("sshd.authentication-methods", at: "/etc/ssh/sshd_config", fixMentions: "publickey,keyboard-interactive", in: host)
        try host.write("/etc/ssh/sshd_config.d/totpd.conf", "UsePAM yes\nAuthenticationMethods publickey,keyboard-interactive:pam publickey\n")
        await expectOnly("sshd.authentication-methods", at: "/etc/ssh/sshd_config.d/totpd.conf:2", fixMentions: "publickey,keyboard-interactive", in: host)
    }

    @Test func anEarlierDropInOverridesTheMainFile() async throws {
        let host = try DoctorTree()
        // sshd takes the first value: the drop-in included at the top wins over the line below.
        try host.write("/etc/ssh/sshd_config", "Include sshd_config.d/*.conf\nKbdInteractiveAuthentication yes\n")
        try host.write("/etc/ssh/sshd_config.d/00-vendor.conf", "KbdInteractiveAuthentication no\n")
        await expectOnly("sshd.keyboard-interactive", at: "/etc/ssh/sshd_config.d/00-vendor.conf:1", fixMentions: "KbdInteractiveAuthentication yes", in: host)
        // Lines in a Match block apply to some logins only: not taken, but named.
        try host.write("/etc/ssh/sshd_config.d/00-vendor.conf", "Match User backup\n  KbdInteractiveAuthentication no\n")
        await expectOnly("sshd.match-override", at: "/etc/ssh/sshd_config.d/00-vendor.conf:2", fixMentions: "sshd -T -C", in: host)
    }

    @Test func aWorldWritableConfiguration() async throws {
        let host = try DoctorTree()
        chmod(host.root + "/etc/totpd/totpd.conf", 0o666)
        await expectOnly("config.unsafe", at: "/etc/totpd/totpd.conf", fixMentions: "chmod go-w \(host.root)/etc/totpd/totpd.conf", in: host)
    }

    @Test func aConfigurationTheDaemonRejects() async throws {
        let host = try DoctorTree()
        try host.write("/etc/totpd/totpd.conf", "issuer: doctor-test\nlockout:\n  failure: 3\n")
        await expectOnly("config.invalid", at: "/etc/totpd/totpd.conf:3", fixMentions: "totpd --check-config", in: host)
        #expect(await host.problems().first?.message.contains("lockout.failure: unknown key") == true)
    }

    @Test func aKeyOthersCanRead() async throws {
        let host = try DoctorTree()
        chmod(host.root + "/var/lib/totpd/secret.key", 0o644)
        await expectOnly("files.permissions", at: "/var/lib/totpd/secret.key", fixMentions: "chmod 600 \(host.root)/var/lib/totpd/secret.key", in: host)
    }

    @Test func aKeyRotationCutShort() async throws {
        let host = try DoctorTree()
        try host.write("/var/lib/totpd/secret.key.next", String(repeating: "n", count: 32), mode: 0o600)
        await expectOnly("files.rotation-unfinished", at: "/var/lib/totpd/secret.key.next", fixMentions: "systemctl restart totpd.service", in: host)
    }

    @Test func aStateDirectoryOthersCanList() async throws {
        let host = try DoctorTree()
        chmod(host.root + "/var/lib/totpd", 0o755)
        await expectOnly("files.permissions", at: "/var/lib/totpd", fixMentions: "chmod 700 \(host.root)/var/lib/totpd", in: host)
    }

    @Test func aRequiredAccountWithoutEnrollment() async throws {
        let host = try DoctorTree()
        let enrolled = TestDaemon.currentUser
        let missing = "doctor-test-unenrolled"
        try host.write(
            "/etc/passwd",
            "\(enrolled):x:\(getuid()):\(getgid())::/root:/bin/bash\n\(missing):x:4000:4000::/home/m:/bin/bash\nnologin:x:4001:4001::/:/usr/sbin/nologin\n"
                + "sync:x:4:65534:sync:/bin:/bin/sync\ntoor:x:0:0::/root:/bin/bash\n")
        // Debian's sync account has a shell that is not one of /etc/shells: it cannot log in.
        // Read as glibc does: a comment after the path does not hide the shell.
        try host.write("/etc/shells", "# /etc/shells: valid login shells\n/bin/sh\n/bin/bash\t# the usual one\n")
        try await TestDaemon.run { daemon in
            _ = try await daemon.enroll(enrolled)
            var doctor = Doctor(tree: host.tree, socketPath: daemon.configuration.socketPath)
            doctor.daemonUID = geteuid()
            let problems = await doctor.run().filter { $0.severity != .note }
            #expect(problems.map(\.id) == ["enrollment.missing", "enrollment.missing"], "\(problems)")
            #expect(problems.map(\.subject) == ["account \(missing)", "account toor"])
            #expect(problems.first?.fix.hasPrefix("totpctl enroll \(missing) (as \(missing), or as root for them)") == true)
            // An account of uid 0 enrolls itself: there is no one else to do it for them.
            #expect(problems.last?.fix.hasPrefix("totpctl enroll toor (as root), or") == true, "\(problems)")
        }
    }

    /// The daemon's release comes from its own answer. A pid file in the tree names no process
    /// doctor may trust: a user's process can hold a stale pid, and doctor once ran its program.
    @Test func theDaemonsReleaseComesFromItsAnswerNotFromAPidFile() async throws {
        let host = try DoctorTree()
        let stranger = Process()
        stranger.executableURL = URL(fileURLWithPath: "/bin/sleep")
        stranger.arguments = ["60"]
        try stranger.run()
        defer { stranger.terminate() }
        try host.write("/var/lib/totpd/totpd.lock", "\(stranger.processIdentifier)\n", mode: 0o600)
        try await TestDaemon.run { daemon in
            var doctor = Doctor(tree: host.tree, socketPath: daemon.configuration.socketPath)
            doctor.daemonUID = geteuid()
            let daemonFindings = await doctor.run().filter { $0.id.hasPrefix("daemon.") }
            #expect(daemonFindings.map(\.id) == [], "\(daemonFindings)")
        }
    }

    /// Under --root the tree is read as a chroot sees it: a link that leads out of it names the
    /// tree's own file, so a host file's lines never reach the report, and an image's absolute
    /// links work as they do inside the image.
    @Test func aTreeIsReadAsAChrootSeesIt() async throws {
        let host = try DoctorTree()
        let outside = try TemporaryDirectory()
        try "auth required pam_totpd.so\nauth reqXuired pam_unix.so OUTSIDE-THE-TREE\n".write(toFile: outside.path + "/sudo", atomically: false, encoding: .utf8)
        let climbing = String(repeating: "../", count: 12) + String(outside.path.dropFirst()) + "/sudo"
        for target in [outside.path + "/sudo", climbing] {
            unlink(host.root + "/etc/pam.d/sudo")
            symlink(target, host.root + "/etc/pam.d/sudo")
            let findings = await host.findings()
            #expect(!findings.contains { "\($0.message) \($0.fix)".contains("OUTSIDE-THE-TREE") }, "\(findings)")
        }
        // Not in /etc/pam.d, where it would be a service of its own whether the link is read or not.
        try host.write("/usr/share/totpd-test/sudo", "auth required pam_totpd.so\nauth reqXuired pam_unix.so INSIDE-THE-TREE\n")
        for target in ["/usr/share/totpd-test/sudo", "../../usr/share/totpd-test/sudo"] {
            unlink(host.root + "/etc/pam.d/sudo")
            symlink(target, host.root + "/etc/pam.d/sudo")
            let inside = await host.findings()
            #expect(inside.contains { $0.message.contains("INSIDE-THE-TREE") }, "\(target): \(inside)")
        }
    }

    /// The tree is the directory doctor opened at the start: its path turned into a link to
    /// somewhere else while doctor runs does not move the tree there.
    @Test func theTreeStaysTheDirectoryOpenedFirst() throws {
        let host = try DoctorTree()
        let tree = host.tree
        let elsewhere = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: elsewhere.path + "/etc", withIntermediateDirectories: true)
        try "ELSEWHERE\n".write(toFile: elsewhere.path + "/etc/passwd", atomically: false, encoding: .utf8)
        #expect(rename(host.root, host.root + ".moved") == 0)
        #expect(symlink(elsewhere.path, host.root) == 0)
        defer {
            unlink(host.root)
            rename(host.root + ".moved", host.root)
        }
        #expect(tree.contents(of: "/etc/passwd")?.hasPrefix("root:x:0:0:") == true)
    }

    /// What a run reads is bounded: a file too large, includes that multiply, sshd Includes of
    /// the same file and globs through links to their own directory end in findings, not in
    /// a root-run check that takes minutes and gigabytes.
    @Test(.timeLimit(.minutes(1))) func treesThatWouldNeverEndAreCutShort() async throws {
        let large = try DoctorTree()
        try large.write("/etc/pam.d/sudo", "auth required pam_totpd.so\n@include large\n")
        try large.write("/etc/pam.d/large", "")
        #expect(truncate(large.root + "/etc/pam.d/large", off_t(HostTree.maxFileSize + 1)) == 0)
        let tooLarge = await large.problems()
        // Once as sudo's include, once as a service of its own.
        #expect(tooLarge.map(\.id) == ["pam.unreadable", "pam.unreadable"], "\(tooLarge)")
        #expect(tooLarge.first?.message.contains("is larger than 4 MiB") == true, "\(tooLarge)")

        // libpam follows them without end; doctor stops reading the stack where it stops following.
        let repeating = try DoctorTree()
        for (line, count) in [("@include sudo", 3), ("auth include sudo", 2000), ("account include sudo", 2000)] {
            try repeating.write("/etc/pam.d/sudo", "auth required pam_totpd.so\n" + String(repeating: line + "\n", count: count))
            let repeated = await repeating.problems()
            #expect(repeated.map(\.id) == ["pam.include-depth"], "\(repeated.map(\.id))")
        }

        let sshd = try DoctorTree()
        try sshd.write("/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config /etc/ssh/sshd_config /etc/ssh/sshd_config\n")
        #expect(await sshd.problems().map(\.id).contains("sshd.include-limit"))

        let globbing = try DoctorTree()
        try FileManager.default.createDirectory(atPath: globbing.root + "/etc/ssh/g", withIntermediateDirectories: true)
        for index in 1...30 { symlink(".", globbing.root + "/etc/ssh/g/l\(index)") }
        try globbing.write("/etc/ssh/sshd_config", "Include /etc/ssh/g/*/*/*/*/*\n")
        let globbed = await globbing.problems()
        #expect(globbed.map(\.id) == ["sshd.include-limit"], "\(globbed.map(\.id))")
        #expect(globbed.first?.message.contains("matches more than 4096 paths") == true, "\(globbed)")
        #expect(globbed.first?.location == globbing.root + "/etc/ssh/sshd_config:1")

        // Longer than any path: sshd cannot open it, and splitting it must not take doctor minutes.
        let long = try DoctorTree()
        try long.write("/etc/ssh/sshd_config", "Include /" + String(repeating: "a/", count: 400_000) + "*\n")
        #expect(await long.problems().map(\.id) == ["sshd.include-limit"])
    }

    /// Each stack's walks are bounded, and so are all of a run's: a tree of hundreds of services
    /// with many ways through each ends in one finding that names the services not walked.
    @Test(.timeLimit(.minutes(1))) func manyServicesWithManyWaysEachEndInOneFinding() async throws {
        let host = try DoctorTree()
        let optional = String(repeating: "auth optional pam_env.so\n", count: 15)
        for index in 0..<100 {
            try host.write("/etc/pam.d/many\(index)", "auth required pam_totpd.so unenrolled=enroll\n" + optional)
        }
        let problems = await host.problems()
        let limits = problems.filter { $0.id == "pam.check-limit" }
        #expect(limits.count == 1, "\(problems.map(\.id))")
        #expect(limits.first?.message.contains("many99") == false)
        #expect(limits.first?.message.contains(" more: ") == true, "\(limits)")
        // The services walked before the budget ran out keep their findings.
        #expect(problems.contains { $0.id == "pam.enroll-without-first-factor" && $0.subject == "PAM service many0" })
    }

    /// libpam takes a line of a type it does not know as an auth line that always fails, and
    /// follows its control; su, run by the user, lets root alone through pam_rootok.
    @Test func linesOfNoKnownTypeAndRootokWhereTheUserRunsPAM() async throws {
        let host = try DoctorTree()
        try host.write("/etc/pam.d/sudo", "auth required pam_permit.so\nxauth [default=1] pam_permit.so\nauth required pam_totpd.so\n")
        let problems = await host.problems()
        #expect(problems.map(\.id) == ["pam.syntax", "pam.jump-over-code"], "\(problems)")
        #expect(problems.allSatisfy { $0.location == host.root + "/etc/pam.d/sudo:2" })

        try host.write("/etc/pam.d/sudo", "--auth sufficient pam_permit.so\nauth required pam_totpd.so\n")
        #expect(await host.problems().map(\.id) == ["pam.syntax"])

        try host.write("/etc/pam.d/sudo", try String(contentsOfFile: DoctorTree.repository.path + "/config/pam.d/sudo", encoding: .utf8))
        try host.write("/etc/pam.d/su", "auth sufficient pam_rootok.so\n@include common-auth\nauth required pam_totpd.so\n")
        #expect(await host.problems() == [])
    }

    /// A line libpam cannot read still counts as a module that always fails: a jump lands on
    /// it, and a control it cannot read makes every value bad, which a `reset` can undo.
    @Test func linesLibpamCannotReadStayInTheWalk() async throws {
        let host = try DoctorTree()
        try host.write(
            "/etc/pam.d/sudo",
            "auth [success=+2 default=die] pam_permit.so\nauth [default=reset] pam_permit.so\nauth [success=1 default=die] pam_permit.so\nauth [success=ok default=die] pam_totpd.so\nauth required pam_permit.so\n")
        let reset = await host.problems()
        #expect(reset.map(\.id) == ["pam.syntax", "pam.jump-over-code"], "\(reset)")
        #expect(reset.map(\.location) == ["/etc/pam.d/sudo:1", "/etc/pam.d/sudo:3"].map { host.root + $0 })
        for control in ["[SUCCESS=ok DEFAULT=die]", "[success=ok\u{A0}default=die]"] {
            try host.write("/etc/pam.d/sudo", "auth required pam_permit.so\nauth \(control) pam_totpd.so\n")
            #expect(await host.problems().map(\.id) == ["pam.syntax"], "\(control)")
        }
        try host.write("/etc/pam.d/sudo", "auth [success=2 default=die] pam_permit.so\nauth required\nauth required pam_totpd.so\nauth required pam_permit.so\n")
        let landed = await host.problems()
        #expect(landed.map(\.id) == ["pam.syntax", "pam.jump-over-code"], "\(landed)")
    }

    /// A program whose service has no file runs `other`: sshd with `other` running the code needs
    /// its settings checked all the same.
    @Test func sshdWithoutItsOwnServiceRunsOther() async throws {
        let host = try DoctorTree()
        unlink(host.root + "/etc/pam.d/sshd")
        symlink("/etc/pam.d/nothing-here", host.root + "/etc/pam.d/sshd")
        try host.write("/etc/pam.d/other", "@include common-auth\nauth required pam_totpd.so\n")
        try host.write("/etc/ssh/sshd_config.d/totpd.conf", "UsePAM yes\nKbdInteractiveAuthentication yes\n")
        await expectOnly("sshd.authentication-methods", at: "/etc/ssh/sshd_config", fixMentions: "keyboard-interactive", in: host)
    }

    /// `keyboard-interactive:` with no device is every device, pam among them.
    @Test func keyboardInteractiveWithoutADeviceIsEveryDevice() async throws {
        let host = try DoctorTree()
        try host.write("/etc/ssh/sshd_config.d/totpd.conf", "UsePAM yes\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive:\n")
        #expect(await host.problems() == [])
    }

    @Test func sshdWhoseFileIsADirectoryRunsOther() async throws {
        let host = try DoctorTree()
        unlink(host.root + "/etc/pam.d/sshd")
        mkdir(host.root + "/etc/pam.d/sshd", 0o755)
        try host.write("/etc/pam.d/other", "@include common-auth\nauth required pam_totpd.so\n")
        try host.write("/etc/ssh/sshd_config.d/totpd.conf", "UsePAM yes\nKbdInteractiveAuthentication yes\n")
        await expectOnly("sshd.authentication-methods", at: "/etc/ssh/sshd_config", fixMentions: "keyboard-interactive", in: host)
    }

    /// sshd reads 16 levels of Include below sshd_config and refuses to start past them.
    @Test func sshdIncludesAreFollowedSixteenLevelsDeep() async throws {
        let host = try DoctorTree()
        func chain(_ length: Int) throws {
            try host.write("/etc/ssh/sshd_config", "Include /etc/ssh/chain/1.conf\nInclude /etc/ssh/sshd_config.d/*.conf\n")
            for level in 1..<length { try host.write("/etc/ssh/chain/\(level).conf", "Include /etc/ssh/chain/\(level + 1).conf\n") }
            try host.write("/etc/ssh/chain/\(length).conf", "AuthenticationMethods publickey\n")
        }
        try chain(16)
        await expectOnly("sshd.authentication-methods", at: "/etc/ssh/chain/16.conf:1", fixMentions: "keyboard-interactive", in: host)
        try chain(17)
        await expectOnly("sshd.include-depth", at: "/etc/ssh/chain/17.conf", fixMentions: "fewer levels", in: host)
    }

    /// What the login path reads, others must not be able to change; and doctor, which runs as
    /// root, does not read what they could have pointed elsewhere.
    @Test func filesOthersCanChangeAreNamedAndNotRead() async throws {
        let host = try DoctorTree()
        try host.write("/etc/pam.d/sudo", "@include common-auth\nauth include /srv/pam/extra\nauth required pam_totpd.so\n")
        try host.write("/srv/pam/extra", "auth optional pam_permit.so\n")
        chmod(host.root + "/srv/pam/extra", 0o666)
        await expectOnly("pam.untrusted-file", at: "/etc/pam.d/sudo:2", fixMentions: "chmod go-w", in: host)
        chmod(host.root + "/srv/pam/extra", 0o644)
        #expect(await host.problems() == [])
        // A directory on the way others may write in.
        chmod(host.root + "/srv/pam", 0o777)
        await expectOnly("pam.untrusted-file", at: "/etc/pam.d/sudo:2", fixMentions: "chmod go-w", in: host)
        // A sticky one lets them create a name that is not there yet.
        chmod(host.root + "/srv/pam", 0o1777)
        try host.write("/etc/pam.d/sudo", "@include common-auth\nauth include /srv/pam/not-yet\nauth required pam_totpd.so\n")
        await expectOnly("pam.untrusted-file", at: "/etc/pam.d/sudo:2", fixMentions: "chmod go-w", in: host)
        #expect(await host.problems().first?.message.contains("others may create it") == true)
        // The module a line loads, through a link, and a relative name from the security directory.
        chmod(host.root + "/srv/pam", 0o755)
        try host.write("/srv/pam/pam_extra.so", "", mode: 0o666)
        symlink("../srv/pam", host.root + "/modules")
        try FileManager.default.createDirectory(atPath: host.root + PAMStack.moduleDirectory, withIntermediateDirectories: true)
        for module in ["/modules/pam_extra.so", "../../../../srv/pam/pam_extra.so"] {
            try host.write("/etc/pam.d/sudo", "@include common-auth\nauth required pam_totpd.so\nauth optional \(module)\n")
            await expectOnly("pam.untrusted-module", at: "/etc/pam.d/sudo:3", fixMentions: "root's", in: host)
        }
        try host.write("/etc/pam.d/sudo", "@include common-auth\nauth required pam_totpd.so\n")
        // An sshd drop-in, and a directory an Include lists.
        try host.write("/etc/ssh/sshd_config.d/totpd.conf", try String(contentsOfFile: host.root + "/etc/ssh/sshd_config.d/totpd.conf", encoding: .utf8), mode: 0o664)
        await expectOnly("sshd.untrusted-file", at: "/etc/ssh/sshd_config.d/totpd.conf", fixMentions: "chmod go-w", in: host)
        chmod(host.root + "/etc/ssh/sshd_config.d/totpd.conf", 0o644)
        chmod(host.root + "/etc/ssh/sshd_config.d", 0o1777)
        await expectOnly("sshd.untrusted-file", at: "/etc/ssh/sshd_config:1", fixMentions: "chmod go-w", in: host)
        chmod(host.root + "/etc/ssh/sshd_config.d", 0o755)
        #expect(await host.problems() == [])
        // Others who may add a name to /etc/pam.d may give sshd, which has no file, one; and
        // each file there may be one of root's they moved in.
        chmod(host.root + "/etc/pam.d", 0o1777)
        let sticky = await host.problems()
        #expect(Set(sticky.map(\.id)) == ["pam.untrusted-file"], "\(sticky)")
        #expect(sticky.contains { $0.location == host.root + "/etc/pam.d" && $0.fix.contains("chmod 755") })
        #expect(sticky.contains { $0.location == host.root + "/etc/pam.d/sudo" && $0.message.contains("anyone may have put it") })
        chmod(host.root + "/etc/pam.d", 0o755)
        // What `$ISA` expands to, the program pam_exec runs (its options in any case), what it
        // is given, a relative one, and the interpreter of a script.
        try host.write("/srv/isa/lib/security", "", mode: 0o666)
        try host.write("/srv/exec/check", "", mode: 0o777)
        try host.write("/usr/local/sbin/hook", "#!/srv/exec/check\n", mode: 0o755)
        try host.write("/usr/local/sbin/nearby", "#!interpreter\n", mode: 0o755)
        try host.write("/usr/local/sbin/argued", "#!/bin/sh script\n", mode: 0o755)
        try host.write("/usr/local/sbin/split", "#!/usr/bin/env -S sh script\n", mode: 0o755)
        try host.write("/usr/local/sbin/given", "#!/bin/sh /srv/exec/check\n", mode: 0o755)
        try host.write("/usr/local/sbin/venv", "#!/usr/bin/env /srv/exec/check\n", mode: 0o755)
        let execLines = [
            "auth optional /srv/isa$ISA", "auth optional pam_exec.so quiet log=/var/log/x /srv/exec/check", "auth optional pam_exec.so DEBUG Log=/x /srv/exec/check",
            "auth optional pam_exec.so /bin/sh /srv/exec/check", "auth optional pam_exec.so check", "auth optional pam_exec.so /usr/local/sbin/hook",
            "auth optional pam_exec.so /usr/local/sbin/nearby", "auth optional pam_exec.so /bin/sh -e hook.sh", "auth optional pam_exec.so /usr/bin/env A=1 ./hook",
            "auth optional pam_exec.so /usr/local/sbin/argued", "auth optional pam_exec.so log=exec.log /usr/local/sbin/ok",
            "auth optional pam_exec.so /bin/sh script", "auth optional pam_exec.so /bin/busybox sh -e script", "auth optional pam_exec.so /usr/bin/perl -I /usr/lib script",
            "auth optional pam_exec.so /usr/local/sbin/split", "auth optional pam_exec.so /usr/local/sbin/given", "auth optional pam_exec.so /usr/local/sbin/venv",
            "auth optional pam_exec.so /usr/bin/awk -f script.awk",
        ]
        for line in execLines {
            try host.write("/etc/pam.d/sudo", "@include common-auth\nauth required pam_totpd.so\n\(line)\n")
            await expectOnly("pam.untrusted-module", at: "/etc/pam.d/sudo:3", fixMentions: "root's", in: host)
        }
        // Words an interpreter takes for options or their values, not files.
        try host.write("/usr/local/sbin/ok", "#!/bin/sh -e\n", mode: 0o755)
        try host.write("/usr/local/sbin/envy", "#!/usr/bin/env python3.11\n", mode: 0o755)
        try host.write("/usr/local/sbin/boxed", "#!/bin/busybox sh\n", mode: 0o755)
        let quietLines = [
            "auth optional pam_exec.so /usr/local/sbin/boxed", "auth optional pam_exec.so /bin/sh -c logger.sh", "auth optional pam_exec.so /usr/bin/env python3.11 /usr/local/sbin/ok",
            "auth optional pam_exec.so /bin/sh -c true", "auth optional pam_exec.so /bin/bash -o errexit /usr/local/sbin/ok", "auth optional pam_exec.so /usr/bin/python3 -W ignore /usr/local/sbin/ok",
            "auth optional pam_exec.so /usr/local/sbin/ok log=x", "auth optional pam_exec.so /usr/local/sbin/envy", "auth optional pam_exec.so /bin/sh -ec true",
        ]
        for line in quietLines {
            try host.write("/etc/pam.d/sudo", "@include common-auth\nauth required pam_totpd.so\n\(line)\n")
            #expect(await host.problems() == [], "\(line)")
        }
        // Includes of other types, whose modules libpam loads too, and `other`'s, which it loads
        // for every service.
        try host.write("/srv/exec/account", "account required pam_permit.so\n", mode: 0o666)
        try host.write("/etc/pam.d/sudo", "@include common-auth\nauth required pam_totpd.so\naccount include /srv/exec/account\n")
        await expectOnly("pam.untrusted-file", at: "/etc/pam.d/sudo:3", fixMentions: "chmod go-w", in: host)
        try host.write("/etc/pam.d/sudo", "@include common-auth\nauth required pam_totpd.so\n")
        try host.write("/etc/pam.d/other", "auth required pam_deny.so\nsession optional /srv/exec/check\n")
        await expectOnly("pam.untrusted-module", at: "/etc/pam.d/other:2", fixMentions: "root's", in: host)
        unlink(host.root + "/etc/pam.d/other")
        // How sshd starts: its options, and its units wherever systemd finds them; a masked one
        // is a link to /dev/null.
        try host.write("/etc/default/ssh", "SSHD_OPTS=\n", mode: 0o666)
        await expectOnly("sshd.untrusted-file", at: "/etc/default/ssh", fixMentions: "chmod go-w", in: host)
        for line in ["SSHD_OPTS='-o AuthenticationMethods=publickey'", "export SSHD_OPTS = \"-o AuthenticationMethods=publickey\""] {
            try host.write("/etc/default/ssh", line + "\n")
            let options = await host.problems()
            #expect(options.map(\.id) == ["sshd.command-line"] && options.first?.severity == .warning, "\(options)")
        }
        unlink(host.root + "/etc/default/ssh")
        try host.write("/etc/default/ssh", "# options\r\nSSHD_OPTS=\"-o AuthenticationMethods=publickey\"\r\n")
        await expectOnly("sshd.command-line", at: "/etc/default/ssh:2", fixMentions: "SSHD_OPTS", in: host)
        try host.write("/etc/default/ssh", "SSHD_OPTS=\r\n")
        #expect(await host.problems() == [])
        unlink(host.root + "/etc/default/ssh")
        for directory in ["/usr/lib/systemd/system/ssh.service.d", "/etc/systemd/system/service.d", "/run/systemd/system.control/sshd@.service.d", "/etc/systemd/system/sshd.service.d"] {
            try FileManager.default.createDirectory(atPath: host.root + directory, withIntermediateDirectories: true)
            chmod(host.root + directory, 0o777)
            await expectOnly("sshd.untrusted-file", at: directory, fixMentions: "chmod go-w", in: host)
            chmod(host.root + directory, 0o755)
        }
        // What is in a drop-in, and the environment files it names.
        try host.write("/etc/systemd/system/ssh.service.d/override.conf", "[Service]\nEnvironmentFile=-/srv/exec/environment\n", mode: 0o666)
        await expectOnly("sshd.untrusted-file", at: "/etc/systemd/system/ssh.service.d/override.conf", fixMentions: "chmod go-w", in: host)
        chmod(host.root + "/etc/systemd/system/ssh.service.d/override.conf", 0o644)
        try host.write("/srv/exec/environment", "", mode: 0o666)
        await expectOnly("sshd.untrusted-file", at: "/srv/exec/environment", fixMentions: "chmod go-w", in: host)
        chmod(host.root + "/srv/exec/environment", 0o644)
        try host.write("/etc/systemd/system/ssh.service.d/override.conf", "[Service]\nEnvironment=SSHD_OPTS=-oAuthenticationMethods=publickey\n")
        await expectOnly("sshd.command-line", at: "/etc/systemd/system/ssh.service.d/override.conf:2", fixMentions: "SSHD_OPTS", in: host)
        let startups = [
            "EnvironmentFile=-/etc/ssh/env.d/*.env", "ExecStart=\nExecStart=/usr/sbin/sshd -Do AuthenticationMethods=publickey", "Environment=OPTS=-oAuthenticationMethods=publickey",
        ]
        for line in startups {
            try host.write("/etc/systemd/system/ssh.service.d/override.conf", "[Service]\n\(line)\n")
            let problems = await host.problems()
            #expect(problems.map(\.id).contains("sshd.command-line") && Set(problems.map(\.id)) == ["sshd.command-line"], "\(line): \(problems)")
        }
        unlink(host.root + "/etc/systemd/system/ssh.service.d/override.conf")
        // The programs a unit runs, and sshd itself.
        for program in ["/usr/local/sbin/wrapper", "/usr/sbin/sshd"] {
            try host.write(program, "", mode: 0o777)
            // sshd, run by two lines, is named once.
            try host.write("/etc/systemd/system/ssh@.service", "[Service]\nExecStartPre=/usr/local/sbin/wrapper\nExecStart=-/usr/sbin/sshd -i\nExecReload=/usr/sbin/sshd -t\n")
            await expectOnly("sshd.untrusted-file", at: program, fixMentions: "chmod go-w", in: host)
            chmod(host.root + program, 0o755)
        }
        unlink(host.root + "/etc/systemd/system/ssh@.service")
        // What doctor cannot read, systemd reads in part.
        #expect(FileManager.default.createFile(atPath: host.root + "/etc/systemd/system/ssh.service.d/override.conf", contents: Data("# J\u{FC}rgen\n".utf8.map { $0 == 0xC3 ? 0x20 : $0 })))
        await expectOnly("sshd.unreadable", at: "/etc/systemd/system/ssh.service.d/override.conf", fixMentions: "UTF-8", in: host)
        unlink(host.root + "/etc/systemd/system/ssh.service.d/override.conf")
        // A quote that runs on to the next line.
        try host.write("/etc/default/ssh", "SSHD_OPTS='\n-oAuthenticationMethods=publickey'\n")
        await expectOnly("sshd.command-line", at: "/etc/default/ssh:1", fixMentions: "SSHD_OPTS", in: host)
        unlink(host.root + "/etc/default/ssh")
        if geteuid() == 0 {
            var null = stat()
            try FileManager.default.createDirectory(atPath: host.root + "/dev", withIntermediateDirectories: true)
            #expect(stat("/dev/null", &null) == 0 && mknod(host.root + "/dev/null", S_IFCHR | 0o666, null.st_rdev) == 0)
            chmod(host.root + "/dev/null", 0o666)
            #expect(symlink("/dev/null", host.root + "/etc/systemd/system/ssh.service") == 0)
            #expect(await host.problems() == [])
        }
        // A listed directory reached through `.`.
        try host.write("/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/./*.conf\nPasswordAuthentication yes\n")
        chmod(host.root + "/etc/ssh/sshd_config.d", 0o1777)
        await expectOnly("sshd.untrusted-file", at: "/etc/ssh/sshd_config:1", fixMentions: "chmod go-w", in: host)
        chmod(host.root + "/etc/ssh/sshd_config.d", 0o755)
        #expect(await host.problems() == [])
        // A link whose target doctor cannot spell is not taken for a safe one.
        try host.write("/etc/pam.d/sudo", "@include /srv/odd\nauth required pam_totpd.so\n")
        #expect(symlink(Array("/srv/".utf8CString.dropLast()) + [CChar(bitPattern: 0xFF), 0], host.root + "/srv/odd") == 0)
        await expectOnly("pam.untrusted-file", at: "/etc/pam.d/sudo:1", fixMentions: "chmod go-w", in: host)
        try host.write("/etc/pam.d/sudo", "@include common-auth\nauth required pam_totpd.so\n")
        // A user's link to a file only root may read: named, and nothing of what it leads to quoted.
        guard geteuid() == 0 else { return }
        try host.write("/etc/shadow", "root:$6$not-for-users$:20000:0:99999:7:::\n", mode: 0o640)
        mkdir(host.root + "/srv/users", 0o755)
        chmod(host.root + "/srv/users", 0o1777)
        symlink("/etc/shadow", host.root + "/srv/users/pam")
        lchown(host.root + "/srv/users/pam", 65534, 65534)
        try host.write("/etc/pam.d/sudo", "@include /srv/users/pam\n@include common-auth\nauth required pam_totpd.so\n")
        await expectOnly("pam.untrusted-file", at: "/etc/pam.d/sudo:1", fixMentions: "chmod go-w", in: host)
        #expect(await host.findings().allSatisfy { !$0.message.contains("not-for-users") && !$0.fix.contains("not-for-users") })
    }

    /// libpam 1.5 reads 1023 bytes of a line at a time: the rest is another line, which doctor
    /// walks as libpam does, and says so.
    @Test func aLineLongerThanLibpamsBufferIsCutWhereLibpamCutsIt() async throws {
        let host = try DoctorTree()
        let start = "auth required pam_permit.so "
        let padded = start + String(repeating: "x", count: 1023 - start.utf8.count)
        try host.write("/etc/pam.d/sudo", "@include common-auth\n" + padded + "auth sufficient pam_permit.so\nauth required pam_totpd.so\n")
        let problems = await host.problems()
        #expect(problems.map(\.id) == ["pam.line-too-long", "pam.sufficient-before-code"], "\(problems)")
        #expect(problems.first?.location == host.root + "/etc/pam.d/sudo:2")
    }

    /// A name doctor cannot spell as the system does is an error, not a file passed over or
    /// another file read in its place.
    @Test func bytesThatAreNotUTF8AreNotReadAsSomethingElse() async throws {
        let host = try DoctorTree()
        // The name the byte 0xFF would decode to, were it replaced.
        try host.write("/etc/pam.d/inc\u{FFFD}", "auth required pam_permit.so\n")
        try Data(Array("@include inc".utf8) + [0xFF] + Array("\nauth required pam_totpd.so\n".utf8)).write(to: URL(fileURLWithPath: host.root + "/etc/pam.d/sudo"))
        let problems = await host.problems()
        #expect(problems.map(\.id) == ["pam.unreadable"], "\(problems)")
        #expect(problems.first?.message.contains("is not UTF-8 text") == true, "\(problems)")

        let named = try DoctorTree()
        let path = (named.root + "/etc/pam.d/s").utf8CString.dropLast() + [CChar(bitPattern: 0xFF), 0]
        let file = path.withUnsafeBufferPointer { Glibc.open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
        #expect(file >= 0)
        close(file)
        let unnamed = await named.problems()
        #expect(unnamed.map(\.id) == ["pam.unreadable"], "\(unnamed)")
        #expect(unnamed.first?.message.contains("holds a name that is not UTF-8") == true, "\(unnamed)")
    }

    /// Many ways through a stack each meet its lines: a finding quotes a line once and in part,
    /// however long the line and however many the ways.
    @Test func aFindingQuotesALongLineOnceAndInPart() async throws {
        let host = try DoctorTree()
        // As long as libpam reads a line.
        let factor = "auth optional pam_unix.so " + String(repeating: "a", count: 990) + "\n"
        try host.write("/etc/pam.d/sudo", factor + String(repeating: "auth optional pam_env.so\n", count: 10) + "auth required pam_totpd.so unenrolled=enroll\n")
        let problems = await host.problems()
        let enroll = problems.filter { $0.id == "pam.enroll-without-first-factor" }
        #expect(enroll.count == 1, "\(problems.map(\.id))")
        #expect((enroll.first?.message.count ?? .max) < 1000, "\(enroll.first?.message.count ?? 0) characters")
    }

    /// The tree is opened by a path without links: a link there, which its owner may turn to a
    /// directory only root can read, is refused, and nothing of the tree is read.
    @Test func aTreeReachedThroughALinkIsRefused() throws {
        let host = try DoctorTree()
        let links = try TemporaryDirectory()
        #expect(symlink(host.root, links.path + "/tree") == 0)
        #expect(symlink((host.root as NSString).deletingLastPathComponent, links.path + "/parent") == 0)
        let throughParent = links.path + "/parent/" + (host.root as NSString).lastPathComponent
        for path in [links.path + "/tree", links.path + "/tree/", throughParent] {
            let tree = HostTree(root: path)
            #expect(tree.rootProblem?.contains("leads through a symbolic link") == true, "\(path): \(tree.rootProblem ?? "opened")")
            #expect(tree.contents(of: "/etc/passwd") == nil)
        }
        #expect(HostTree(root: host.root).rootProblem == nil)
        #expect(HostTree(root: host.root + "/etc/passwd").rootProblem == "is not a directory")
        #expect(HostTree(root: host.root + "/none").rootProblem == "does not exist")
    }

    @Test func anUnreachableDaemon() async throws {
        let host = try DoctorTree()
        let problems = await Doctor(tree: host.tree, socketPath: host.root + "/no-socket").run().filter { $0.severity != .note }
        #expect(problems.map(\.id) == ["daemon.unreachable"])
    }
}

/// pam_totpd's argument parser and doctor's copy of it must agree on every argument.
@Suite struct ModuleArgumentAgreementTests {
    /// The real parser, args.c, as the module runs it.
    private func moduleAnswer(_ arguments: [String]) -> String? {
        var parsed = totpd_args()
        var error = [CChar](repeating: 0, count: 256)
        let copies = arguments.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let argv = copies.map { UnsafePointer($0) }
        let result = argv.withUnsafeBufferPointer { totpd_args_parse(Int32(arguments.count), $0.baseAddress, &parsed, &error, error.count) }
        return result == 0 ? nil : String(cString: error)
    }

    private static let single: [String] = {
        var arguments = ["debug", "use_first_pass", "try_first_pass", "foo", "socket", "debug=1", "Debug", "use_first_pass=1", "", "=", "[x]"]
        arguments += ["socket=/run/totpd/socket", "socket=", "socket=run/x", "socket=/" + String(repeating: "s", count: 101), "socket=/" + String(repeating: "s", count: 102)]
        arguments += ["socket=/" + String(repeating: "s", count: 106), "socket=/" + String(repeating: "s", count: 107)]
        arguments += ["timeout=", "timeout=0", "timeout=1", "timeout=60", "timeout=61", "timeout=061", "timeout=0060", "timeout=-1", "timeout= 5", "timeout=5s", "timeout=99999999999999"]
        arguments += ["prompt=", "prompt=a", "prompt=Code: ", "prompt=\u{1B}[2J", "prompt=a\u{7F}", "prompt=Code à usage unique : "]
        arguments += ["prompt=" + String(repeating: "p", count: 128), "prompt=" + String(repeating: "p", count: 129)]
        arguments += ["unenrolled=deny", "unenrolled=allow", "unenrolled=enroll", "unenrolled=Allow", "unenrolled=", "unenrolled=register"]
        return arguments
    }()

    @Test func everyArgumentAndEveryPairGetsTheModulesAnswer() {
        var cases = Self.single.map { [$0] }
        for first in Self.single { for second in Self.single { cases.append([first, second]) } }
        for arguments in cases {
            #expect(PAMModuleArguments.problem(in: arguments) == moduleAnswer(arguments), "\(arguments)")
        }
        // The list can fail: both accept and both refuse somewhere in it.
        #expect(cases.contains { moduleAnswer($0) == nil } && cases.contains { moduleAnswer($0) != nil })
    }

    /// A new argument in args.c is a new name there; doctor must know it, or it would call it unknown.
    @Test func theNamesAreArgsCsNames() throws {
        let source = try String(
            contentsOf: DoctorTree.repository.appendingPathComponent("Sources/pam_totpd/args.c"), encoding: .utf8)
        let valued = source.matches(of: /value_of\(argument, "([a-z_]+)"\)/).map { String($0.1) + "=" }
        let flags = source.matches(of: /strcmp\(argument, "([a-z_]+)"\)/).map { String($0.1) }
        #expect(!valued.isEmpty && !flags.isEmpty)
        #expect(Set(valued + flags) == Set(PAMModuleArguments.names))
    }
}
