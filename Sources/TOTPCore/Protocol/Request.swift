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
    /// `code`: a TOTP code or a recovery code.
    case verify(user: String, code: SubmittedCode, context: AuditContext)
    /// `proof`: a current or recovery code, needed when a user replaces their own active enrollment.
    case enrollBegin(user: String, proof: SubmittedCode?)
    /// `code`, here and below: a TOTP code (decoding refuses a recovery code).
    case enrollConfirm(user: String, code: SubmittedCode, context: AuditContext = AuditContext())
    case status(user: String)
    /// One page: the accounts after `afterUser` (nil: from the first), in byte order of name.
    case list(afterUser: String?)
    case revoke(user: String)
    case reset(user: String)
    case unlock(user: String)
    case auditLog(user: String?, since: Int64?, afterID: Int64)
    case regenerateRecoveryCodes(user: String, code: SubmittedCode)
    case resync(user: String, code: SubmittedCode, nextCode: SubmittedCode)
    /// Asked before prompting: does this user need to give a code now?
    case precheck(user: String, context: AuditContext)
    /// The PAM module starts an enrollment for a user without an active one, inside the login.
    case loginEnroll(user: String, context: AuditContext)
    case rotateKey
    case metrics

    package var operation: Operation {
        switch self {
        case .verify: .verify
        case .enrollBegin: .enrollBegin
        case .enrollConfirm: .enrollConfirm
        case .status: .status
        case .list: .list
        case .revoke: .revoke
        case .reset: .reset
        case .unlock: .unlock
        case .auditLog: .auditLog
        case .regenerateRecoveryCodes: .regenerateRecoveryCodes
        case .resync: .resync
        case .precheck: .precheck
        case .loginEnroll: .loginEnroll
        case .rotateKey: .rotateKey
        case .metrics: .metrics
        }
    }

    package var user: String? {
        switch self {
        case .verify(let user, _, _), .enrollBegin(let user, _), .enrollConfirm(let user, _, _), .status(let user),
            .revoke(let user), .reset(let user), .unlock(let user), .regenerateRecoveryCodes(let user, _), .resync(let user, _, _),
            .precheck(let user, _), .loginEnroll(let user, _):
            user
        case .auditLog(let user, _, _): user
        case .list, .rotateKey, .metrics: nil
        }
    }

    package var auditContext: AuditContext {
        switch self {
        case .verify(_, _, let context), .precheck(_, let context), .enrollConfirm(_, _, let context),
            .loginEnroll(_, let context):
            context
        default: AuditContext()
        }
    }

    package var message: WireMessage {
        var fields: [WireField] = []
        if let user { fields.append(.string(.user, user)) }
        switch self {
        case .verify(_, let code, _), .enrollConfirm(_, let code, _), .regenerateRecoveryCodes(_, let code):
            fields.append(.string(.code, code.text))
        case .enrollBegin(_, let proof):
            if let proof { fields.append(.string(.code, proof.text)) }
        case .resync(_, let code, let nextCode):
            fields += [.string(.code, code.text), .string(.nextCode, nextCode.text)]
        case .auditLog(_, let since, let afterID):
            if let since { fields.append(.u64(.since, UInt64(since))) }
            fields.append(.u64(.afterID, UInt64(afterID)))
        case .list(let afterUser):
            if let afterUser { fields.append(.string(.afterUser, afterUser)) }
        case .status, .revoke, .reset, .unlock, .precheck, .loginEnroll, .rotateKey, .metrics:
            break
        }
        let context = auditContext
        for (tag, value) in [(FieldTag.service, context.service), (.rhost, context.rhost), (.tty, context.tty)] {
            if let value { fields.append(.string(tag, value)) }
        }
        return WireMessage(code: operation.rawValue, fields: fields)
    }

    package init(decoding message: WireMessage) throws(WireMessage.DecodingError) {
        guard let operation = Operation(rawValue: message.code) else {
            throw WireMessage.DecodingError(description: "unknown operation \(message.code)")
        }
        let fields = try RequestFields(message.fields, operation: operation)
        let context = AuditContext(
            service: fields.auditText(.service), rhost: fields.auditText(.rhost), tty: fields.auditText(.tty))
        switch operation {
        case .verify: self = .verify(user: try fields.user(), code: try fields.code(.code, recovery: true), context: context)
        case .enrollBegin:
            self = .enrollBegin(user: try fields.user(), proof: fields.has(.code) ? try fields.code(.code, recovery: true) : nil)
        case .enrollConfirm:
            self = .enrollConfirm(user: try fields.user(), code: try fields.code(.code), context: context)
        case .status: self = .status(user: try fields.user())
        case .list: self = .list(afterUser: try fields.cursor(.afterUser))
        case .revoke: self = .revoke(user: try fields.user())
        case .reset: self = .reset(user: try fields.user())
        case .unlock: self = .unlock(user: try fields.user())
        case .auditLog:
            self = .auditLog(
                user: fields.has(.user) ? try fields.user() : nil, since: try fields.number(.since),
                afterID: try fields.number(.afterID) ?? 0)
        case .regenerateRecoveryCodes:
            self = .regenerateRecoveryCodes(user: try fields.user(), code: try fields.code(.code))
        case .resync:
            self = .resync(user: try fields.user(), code: try fields.code(.code), nextCode: try fields.code(.nextCode))
        case .precheck: self = .precheck(user: try fields.user(), context: context)
        case .loginEnroll: self = .loginEnroll(user: try fields.user(), context: context)
        case .rotateKey: self = .rotateKey
        case .metrics: self = .metrics
        }
    }
}

/// The fields of one request, checked for tag, duplicates and size.
private struct RequestFields {
    private var values: [FieldTag: [UInt8]] = [:]

    init(_ fields: [WireField], operation: Operation) throws(WireMessage.DecodingError) {
        for field in fields {
            guard let tag = FieldTag(rawValue: field.tag), operation.spec.fields.contains(tag) else {
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

    func has(_ tag: FieldTag) -> Bool { values[tag] != nil }

    /// A name to continue after. Unlike `user`, control characters are allowed: the value is
    /// only compared with stored names, never written anywhere, and must be able to repeat any
    /// name a page ended with (an imported one included).
    func cursor(_ tag: FieldTag) throws(WireMessage.DecodingError) -> String? {
        guard let bytes = values[tag] else { return nil }
        guard !bytes.isEmpty, let text = String(validating: bytes, as: UTF8.self) else {
            throw WireMessage.DecodingError(description: "field \(tag) must be non-empty UTF-8")
        }
        return text
    }

    /// 6 to 8 digits, or (where `recovery` allows it) a recovery code.
    func code(_ tag: FieldTag, recovery: Bool = false) throws(WireMessage.DecodingError) -> SubmittedCode {
        guard let bytes = values[tag] else { throw WireMessage.DecodingError(description: "field \(tag) is missing") }
        let code = SubmittedCode(String(decoding: bytes, as: UTF8.self))
        switch code {
        case .totp?: return code!
        case .recovery? where recovery: return code!
        default:
            throw WireMessage.DecodingError(
                description: recovery
                    ? "field \(tag) must be 6 to 8 digits or a recovery code" : "field \(tag) must be 6 to 8 digits")
        }
    }

    func number(_ tag: FieldTag) throws(WireMessage.DecodingError) -> Int64? {
        guard let bytes = values[tag] else { return nil }
        guard let value = WireField(tag: tag.rawValue, value: bytes).u64Value, value <= UInt64(Int64.max) else {
            throw WireMessage.DecodingError(description: "field \(tag) must be an 8-byte number")
        }
        return Int64(value)
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
        case .recoveryCode: "recovery_code"
        case .nextCode: "next_code"
        case .lockedUntil: "locked_until"
        case .recoveryCodesLeft: "recovery_codes_left"
        case .since: "since"
        case .afterID: "after_id"
        case .id: "id"
        case .time: "time"
        case .event: "event"
        case .result: "result"
        case .callerUID: "caller_uid"
        case .callerPID: "caller_pid"
        case .qr: "qr"
        case .count: "count"
        case .afterUser: "after_user"
        case .keyID: "key_id"
        case .metrics: "metrics"
        }
    }
}
