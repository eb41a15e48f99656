package enum EnrollmentState: String, Sendable, CaseIterable {
    case none, pending, active, revoked
}

/// What an admin or the user may know about an enrollment; never the secret.
package struct EnrollmentStatus: Sendable, Equatable {
    package var user: String
    package var state: EnrollmentState
    package var expiresAt: Int64?
    package var activatedAt: Int64?
    package var lastSuccessAt: Int64?
    package var failures: Int
    /// While locked: when attempts are accepted again (`Int64.max`: after an admin unlock).
    package var lockedUntil: Int64?
    package var recoveryCodesLeft: Int

    package init(
        user: String, state: EnrollmentState, expiresAt: Int64? = nil, activatedAt: Int64? = nil,
        lastSuccessAt: Int64? = nil, failures: Int = 0, lockedUntil: Int64? = nil, recoveryCodesLeft: Int = 0
    ) {
        self.user = user
        self.state = state
        self.expiresAt = expiresAt
        self.activatedAt = activatedAt
        self.lastSuccessAt = lastSuccessAt
        self.failures = failures
        self.lockedUntil = lockedUntil
        self.recoveryCodesLeft = recoveryCodesLeft
    }
}
