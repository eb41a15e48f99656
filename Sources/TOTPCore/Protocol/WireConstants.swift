/// Operation codes, result codes and field tags of protocol version 1 (docs/PROTOCOL.md).
/// The PAM module's `totpd_wire.h` carries the same numbers; a test keeps them in step.
package enum WireProtocol {
    package static let version: UInt8 = 1
    package static let maxRequestBody = 4096
    package static let maxResponseBody = 16384
}

package enum Operation: UInt8, Sendable, CaseIterable {
    case verify = 1
    case enrollBegin = 2
    case enrollConfirm = 3
    case status = 4
    case list = 5
    case revoke = 6
    case unlock = 7
    case auditLog = 8
    case regenerateRecoveryCodes = 9
    case resync = 10
    case precheck = 11
    /// The PAM module starts an enrollment inside a login (root callers, allowed services).
    case loginEnroll = 12
    /// Removes an enrollment and leaves the next one open (revoke leaves it closed).
    case reset = 13
    /// Seals every secret again under a new store key (root).
    case rotateKey = 14
    /// The daemon's counters in Prometheus's text format (root and the admin group).
    case metrics = 15
}

package enum ResultCode: UInt8, Sendable, CaseIterable {
    case ok = 0
    case rejected = 1
    case notEnrolled = 2
    case locked = 3
    case denied = 4
    case badRequest = 5
    case unsupportedVersion = 6
    case unknownUser = 7
    case internalError = 8
    /// PRECHECK: this user gives no second factor (PAM_IGNORE).
    case exempt = 9
    /// PRECHECK: a recent success from the same origin through this service stands (PAM_SUCCESS).
    case grace = 10
}

package enum FieldTag: UInt8, Sendable, CaseIterable {
    case user = 1
    case code = 2
    case service = 3
    case rhost = 4
    case tty = 5
    case message = 6
    case secret = 7
    case uri = 8
    case expiresAt = 9
    case state = 10
    case retryAfter = 11
    case failures = 12
    case activatedAt = 13
    case lastSuccessAt = 14
    case record = 15
    case recoveryCode = 16
    case nextCode = 17
    case lockedUntil = 18
    case recoveryCodesLeft = 19
    case since = 20
    case afterID = 21
    case id = 22
    case time = 23
    case event = 24
    case result = 25
    case callerUID = 26
    case callerPID = 27
    case qr = 28
    /// AUDIT_LOG records: the events a row stands for (more than 1 for a `suppressed` row).
    case count = 29
    /// LIST request: the last account name of the previous page (paging).
    case afterUser = 30
    /// ROTATE_KEY: the identifier of the new store key.
    case keyID = 31
    /// METRICS: the text to expose.
    case metrics = 32

    package enum Kind: Sendable { case string, u64, record }

    package var kind: Kind {
        switch self {
        case .expiresAt, .retryAfter, .failures, .activatedAt, .lastSuccessAt, .lockedUntil, .recoveryCodesLeft,
            .since, .afterID, .id, .time, .callerUID, .callerPID, .count:
            .u64
        case .record: .record
        default: .string
        }
    }

    /// Largest value in bytes.
    package var maxLength: Int {
        switch self {
        case .code, .nextCode, .recoveryCode, .event, .result: 64
        case .message, .uri: 1024
        case .secret: 128
        case .state: 16
        case .record: 4096
        case .qr, .metrics: 12288
        case .keyID: 64
        case .user, .service, .rhost, .tty, .afterUser: 256
        case .expiresAt, .retryAfter, .failures, .activatedAt, .lastSuccessAt, .lockedUntil, .recoveryCodesLeft,
            .since, .afterID, .id, .time, .callerUID, .callerPID, .count:
            8
        }
    }
}
