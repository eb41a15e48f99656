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

    package enum Kind: Sendable { case string, u64, record }

    package var kind: Kind {
        switch self {
        case .expiresAt, .retryAfter, .failures, .activatedAt, .lastSuccessAt: .u64
        case .record: .record
        default: .string
        }
    }

    /// Largest value in bytes.
    package var maxLength: Int {
        switch self {
        case .code: 64
        case .message, .uri: 1024
        case .secret: 128
        case .state: 16
        case .record: 4096
        case .user, .service, .rhost, .tty: 256
        case .expiresAt, .retryAfter, .failures, .activatedAt, .lastSuccessAt: 8
        }
    }
}
