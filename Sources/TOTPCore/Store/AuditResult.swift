/// How an audited event ended; `text` is what the audit row and `totpctl log` show.
package enum AuditResult: Sendable, Equatable {
    case accepted, rejected, replayed
    case notEnrolled, locked, rateLimited
    case pending, activated, notPending
    /// A pending enrollment cancelled after too many wrong confirmation codes.
    case voided
    case proofRequired, alreadyEnrolled
    /// Revoked by an admin: no enrollment without an admin until `reset`.
    case revokedUntilReset
    case revoked, reset, unlocked
    case lockedFor(seconds: Int64)
    case lockedUntilUnlock
    case refused(AccessRefusal)
    /// Audit rows not written for a caller that exceeded its budget.
    case auditRowsSuppressed
    /// A key rotation finished: how many sealed values it sealed again.
    case rotated(Int)

    package var text: String {
        switch self {
        case .accepted: "accepted"
        case .rejected: "rejected"
        case .replayed: "replayed"
        case .notEnrolled: "not-enrolled"
        case .locked: "locked"
        case .rateLimited: "rate-limited"
        case .pending: "pending"
        case .activated: "activated"
        case .notPending: "not-pending"
        case .voided: "voided"
        case .proofRequired: "proof-required"
        case .alreadyEnrolled: "already-enrolled"
        case .revokedUntilReset: "revoked-until-reset"
        case .revoked: "revoked"
        case .reset: "reset"
        case .unlocked: "unlocked"
        case .lockedFor(let seconds): "for-\(seconds)s"
        case .lockedUntilUnlock: "until-unlock"
        case .refused(let reason): reason.rawValue
        case .auditRowsSuppressed: "audit-rows"
        case .rotated(let count): "resealed-\(count)"
        }
    }

    /// Rows that record a checked code, or what a checked code changed. The rate limit bounds
    /// how many of them any caller can cause, so they are always written; every other row a
    /// non-root caller causes counts against that caller's audit budget.
    var recordsCheckedCode: Bool {
        switch self {
        case .accepted, .rejected, .replayed, .activated, .voided, .lockedFor, .lockedUntilUnlock: true
        default: false
        }
    }
}

/// Why the daemon refused a request before running it (docs/SECURITY.md, "Authorization").
package enum AccessRefusal: String, Sendable, CaseIterable {
    /// Not the caller's own account.
    case otherUser = "other-user"
    /// Only root and the admin group.
    case notAdmin = "not-admin"
    /// Only root (the login stack).
    case notRoot = "not-root"
    /// The target is root or an admin: only root may change its enrollment without its proof.
    case needsRoot = "needs-root"
    /// Enrollment at login is not enabled for this PAM service.
    case notAllowedForService = "not-allowed-for-service"

    /// Said to the caller that was refused.
    var explanation: String {
        switch self {
        case .otherUser: "only root acts on other accounts"
        case .notAdmin: "only root and the admin group may do this"
        case .notRoot: "only root may do this"
        case .needsRoot: "only root may change the second factor of root or of an admin without that account's code"
        case .notAllowedForService: "enrollment at login is not enabled for this service"
        }
    }
}
