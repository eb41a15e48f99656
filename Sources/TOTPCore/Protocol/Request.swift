/// Where a verification came from, as the PAM module reports it; kept for audit only.
package struct AuditContext: Sendable, Equatable {
    package var service: String?
    package var rhost: String?
    package var tty: String?

    package init(service: String? = nil, rhost: String? = nil, tty: String? = nil) {
        self.service = service
        self.rhost = rhost
        self.tty = tty
    }
}

/// A validated request. Decoding enforces everything docs/PROTOCOL.md says about request fields,
/// so handlers only ever see well-formed values.
package enum Request: Sendable, Equatable {
    case verify(user: String, code: String, context: AuditContext)
    case enrollBegin(user: String)
    case enrollConfirm(user: String, code: String)
    case status(user: String)
    case list
    case revoke(user: String)

    package var operation: Operation {
        switch self {
        case .verify: .verify
        case .enrollBegin: .enrollBegin
        case .enrollConfirm: .enrollConfirm
        case .status: .status
        case .list: .list
        case .revoke: .revoke
        }
    }

    package var user: String? {
        switch self {
        case .verify(let user, _, _), .enrollBegin(let user), .enrollConfirm(let user, _),
            .status(let user), .revoke(let user):
            user
        case .list: nil
        }
    }

    package var message: WireMessage {
        var fields: [WireField] = []
        if let user { fields.append(.string(.user, user)) }
        switch self {
        case .verify(_, let code, let context):
            fields.append(.string(.code, code))
            for (tag, value) in [(FieldTag.service, context.service), (.rhost, context.rhost), (.tty, context.tty)] {
                if let value { fields.append(.string(tag, value)) }
            }
        case .enrollConfirm(_, let code):
            fields.append(.string(.code, code))
        case .enrollBegin, .status, .list, .revoke:
            break
        }
        return WireMessage(code: operation.rawValue, fields: fields)
    }

    package init(decoding message: WireMessage) throws(WireMessage.DecodingError) {
        guard let operation = Operation(rawValue: message.code) else {
            throw WireMessage.DecodingError(description: "unknown operation \(message.code)")
        }
        let fields = try RequestFields(message.fields, operation: operation)
        switch operation {
        case .verify:
            self = .verify(
                user: try fields.user(), code: try fields.code(),
                context: AuditContext(
                    service: fields.auditText(.service), rhost: fields.auditText(.rhost), tty: fields.auditText(.tty)))
        case .enrollBegin: self = .enrollBegin(user: try fields.user())
        case .enrollConfirm: self = .enrollConfirm(user: try fields.user(), code: try fields.code())
        case .status: self = .status(user: try fields.user())
        case .list: self = .list
        case .revoke: self = .revoke(user: try fields.user())
        }
    }
}

extension Operation {
    var acceptedFields: Set<FieldTag> {
        switch self {
        case .verify: [.user, .code, .service, .rhost, .tty]
        case .enrollConfirm: [.user, .code]
        case .enrollBegin, .status, .revoke: [.user]
        case .list: []
        }
    }

    package var name: String {
        switch self {
        case .verify: "verify"
        case .enrollBegin: "enroll-begin"
        case .enrollConfirm: "enroll-confirm"
        case .status: "status"
        case .list: "list"
        case .revoke: "revoke"
        }
    }
}

/// The fields of one request, checked for tag, duplicates and size.
private struct RequestFields {
    private var values: [FieldTag: [UInt8]] = [:]

    init(_ fields: [WireField], operation: Operation) throws(WireMessage.DecodingError) {
        for field in fields {
            guard let tag = FieldTag(rawValue: field.tag), operation.acceptedFields.contains(tag) else {
                throw WireMessage.DecodingError(description: "field \(field.tag) is not accepted by \(operation.name)")
            }
            guard values[tag] == nil else {
                throw WireMessage.DecodingError(description: "field \(tag) appears more than once")
            }
            guard field.value.count <= tag.maxLength else {
                throw WireMessage.DecodingError(description: "field \(tag) is longer than \(tag.maxLength) bytes")
            }
            values[tag] = field.value
        }
    }

    func user() throws(WireMessage.DecodingError) -> String {
        guard let bytes = values[.user] else { throw WireMessage.DecodingError(description: "field user is missing") }
        // Control characters have no place in an account name and would let a caller forge log lines.
        guard !bytes.isEmpty, let text = String(validating: bytes, as: UTF8.self),
            !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw WireMessage.DecodingError(description: "field user must be non-empty UTF-8 without control characters") }
        return text
    }

    func code() throws(WireMessage.DecodingError) -> String {
        guard let bytes = values[.code] else { throw WireMessage.DecodingError(description: "field code is missing") }
        guard OTPParameters.digitRange.contains(bytes.count),
            bytes.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { throw WireMessage.DecodingError(description: "field code must be 6 to 8 digits") }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Audit text is informational: invalid UTF-8 and control characters are replaced rather
    /// than refused, so an odd remote host name cannot block a login.
    func auditText(_ tag: FieldTag) -> String? {
        guard let bytes = values[tag] else { return nil }
        let scalars = String(decoding: bytes, as: UTF8.self).unicodeScalars.map {
            $0.properties.generalCategory == .control ? "\u{FFFD}" : Character($0)
        }
        return String(scalars)
    }
}

extension FieldTag: CustomStringConvertible {
    package var description: String {
        switch self {
        case .user: "user"
        case .code: "code"
        case .service: "service"
        case .rhost: "rhost"
        case .tty: "tty"
        case .message: "message"
        case .secret: "secret"
        case .uri: "uri"
        case .expiresAt: "expires_at"
        case .state: "state"
        case .retryAfter: "retry_after"
        case .failures: "failures"
        case .activatedAt: "activated_at"
        case .lastSuccessAt: "last_success_at"
        case .record: "record"
        }
    }
}
