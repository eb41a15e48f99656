/// What an audit row is about: an operation, or something that happened during one.
package enum AuditEvent: String, Sendable, CaseIterable {
    case verify
    case enrollBegin = "enroll-begin"
    case enrollConfirm = "enroll-confirm"
    /// The current or recovery code given to replace one's own active enrollment.
    case enrollProof = "enroll-proof"
    case status
    case list
    case revoke
    case reset
    case unlock
    case auditLog = "audit-log"
    case recoveryRegenerate = "recovery-regenerate"
    case resync
    case precheck
    case loginEnroll = "login-enroll"
    case lockout
    /// `totpctl rotate-key`: the number of values sealed again in `result`.
    case rotateKey = "rotate-key"
    case metrics
    /// `totpd --import-oath`: one row for the whole file, the number of accounts in `count`.
    case importOATH = "import-oath"
    /// Rows a non-root caller's requests would have written beyond its budget, counted in `count`.
    case suppressed
}
