/// One problem `totpctl doctor` found, said so that the person at the console can fix it: what
/// is wrong, where, and the command or edit that repairs it.
package struct DoctorFinding: Sendable, Equatable, Encodable {
    /// Errors let the second factor be skipped, or keep logins or the daemon from working;
    /// warnings weaken it or will soon break it; notes say what could not be checked.
    package enum Severity: String, Sendable, Encodable, CaseIterable {
        case error, warning, note
    }

    /// Stable across releases, for scripts: `area.problem`, such as `pam.sufficient-before-code`.
    package var id: String
    package var severity: Severity
    /// What it is about: a PAM service, a file, the daemon, an account.
    package var subject: String
    /// `file:line` where the problem is written, for configuration files.
    package var location: String?
    package var message: String
    package var fix: String

    package init(id: String, severity: Severity, subject: String, location: String? = nil, message: String, fix: String) {
        self.id = id
        self.severity = severity
        self.subject = subject
        self.location = location
        self.message = message
        self.fix = fix
    }

    /// Every key in every finding, `location` null where there is none: a shape scripts can rely on.
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(severity, forKey: .severity)
        try container.encode(subject, forKey: .subject)
        try container.encode(location, forKey: .location)
        try container.encode(message, forKey: .message)
        try container.encode(fix, forKey: .fix)
    }

    private enum CodingKeys: String, CodingKey {
        case id, severity, subject, location, message, fix
    }

    /// A check that does not apply here, or that this host cannot answer.
    /// The fix for a file the login path reads that others could change.
    package static func ownershipFix(_ path: String) -> String {
        "make \(path), and each directory and link on the way to it, root's and writable by no one else (chown root, chmod go-w)"
    }

    package static func skipped(_ id: String, subject: String, because reason: String, fix: String = "nothing to do") -> DoctorFinding {
        DoctorFinding(id: id, severity: .note, subject: subject, message: reason, fix: fix)
    }
}
