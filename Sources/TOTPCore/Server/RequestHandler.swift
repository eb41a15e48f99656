import Logging

/// Decides who may do what, runs the store operation and shapes the response. Authorization
/// uses only the kernel-reported caller, never anything the request claims.
package struct RequestHandler: Sendable {
    let store: Store
    let configuration: DaemonConfiguration
    let clock: any WallClock
    let logger: Logger

    package init(store: Store, configuration: DaemonConfiguration, clock: any WallClock, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    package func handle(_ request: Request, caller: PeerCredentials) async -> Response {
        let source = AuditSource(caller: caller, context: request.auditContext)
        let now = clock.unixTime()
        var metadata: Logger.Metadata = [
            "operation": "\(request.operation.name)", "caller_uid": "\(caller.uid)", "caller_pid": "\(caller.pid)",
        ]
        if let user = request.user { metadata["user"] = "\(user)" }
        for (key, value) in [("service", source.context.service), ("rhost", source.context.rhost), ("tty", source.context.tty)] {
            if let value { metadata[key] = "\(value)" }
        }
        do {
            if let refusal = authorize(request, caller: caller) {
                try await store.recordRefusal(
                    operation: request.operation.name, user: request.user, reason: refusal, now: now, source: source)
                logger.notice("request refused", metadata: metadata.merging(["reason": "\(refusal)"]) { $1 })
                return .failure(.denied, "uid \(caller.uid) may not \(request.operation.name) \(request.user.map { "for \($0)" } ?? "")")
            }
            let response = try await perform(request, caller: caller, now: now, source: source)
            metadata["result"] = "\(response.result)"
            if response.result == .locked {
                logger.warning("attempt refused: locked", metadata: metadata)
            } else {
                logger.info("request handled", metadata: metadata)
            }
            return response
        } catch {
            logger.error("request failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return .failure(.internalError, "the daemon could not complete the request; see its log")
        }
    }

    // MARK: Authorization

    private enum Scope {
        /// Root acts on anyone; everyone else on their own account only.
        case ownUnlessRoot
        /// Root and admin-group members act on anyone; others on their own account.
        case ownUnlessAdmin
        /// Root and admin-group members only.
        case adminOnly
        /// Root only: the PAM module inside a login.
        case rootOnly
    }

    private func scope(of operation: Operation) -> Scope {
        switch operation {
        case .verify, .precheck, .regenerateRecoveryCodes, .resync: .ownUnlessRoot
        case .enrollBegin, .enrollConfirm, .status: .ownUnlessAdmin
        case .list, .revoke, .unlock, .auditLog: .adminOnly
        case .loginEnroll: .rootOnly
        }
    }

    /// The reason for a refusal, or nil when the caller may go ahead.
    private func authorize(_ request: Request, caller: PeerCredentials) -> String? {
        if caller.isRoot { return nil }
        let isOwnAccount = request.user.map { UserDirectory.uid(ofUser: $0) == caller.uid } ?? false
        switch scope(of: request.operation) {
        case .ownUnlessRoot: return isOwnAccount ? nil : "other-user"
        case .ownUnlessAdmin: return isOwnAccount || isAdmin(caller) ? nil : "other-user"
        case .adminOnly: return isAdmin(caller) ? nil : "not-admin"
        case .rootOnly: return "not-root"
        }
    }

    /// Membership is read from the group database at the time of the request, so removing
    /// someone from the group takes effect at once.
    private func isAdmin(_ caller: PeerCredentials) -> Bool {
        if caller.isRoot { return true }
        guard let group = configuration.adminGroup, let gid = UserDirectory.gid(ofGroup: group),
            let account = UserDirectory.account(uid: caller.uid)
        else { return false }
        return UserDirectory.groupIDs(of: account).contains(gid)
    }

    // MARK: Operations

    private func perform(
        _ request: Request, caller: PeerCredentials, now: Int64, source: AuditSource
    ) async throws -> Response {
        switch request {
        case .verify(let user, let code, _):
            guard let submitted = SubmittedCode(code) else { return .failure(.badRequest, "not a code") }
            return Self.response(for: try await store.verify(user: user, code: submitted, now: now, source: source))

        case .precheck(let user, let context):
            return try await precheck(user: user, context: context, now: now)

        case .enrollBegin(let user, let proof):
            return try await beginEnrollment(user: user, proof: proof, caller: caller, now: now, source: source)

        case .loginEnroll(let user, let context):
            return try await beginLoginEnrollment(user: user, context: context, now: now, source: source)

        case .enrollConfirm(let user, let code, _):
            switch try await store.confirmEnrollment(user: user, code: code, now: now, source: source) {
            case .activated(let codes): return Response(.ok, codes.map { .string(.recoveryCode, $0) })
            case .rejected: return .failure(.rejected, "the code does not match the new secret")
            case .notPending: return .failure(.notEnrolled, "\(user) has no pending enrollment (it may have expired)")
            }

        case .status(let user):
            return Response(.ok, try await store.status(user: user, now: now).fields)

        case .list:
            return Response(.ok, try await store.list(now: now).map { .record($0.fields) })

        case .revoke(let user):
            return try await store.revoke(user: user, now: now, source: source)
                ? Response(.ok) : .failure(.notEnrolled, "\(user) has nothing to revoke")

        case .unlock(let user):
            return try await store.unlock(user: user, now: now, source: source)
                ? Response(.ok) : .failure(.notEnrolled, "\(user) has no active enrollment")

        case .auditLog(let user, let since, let afterID):
            return try await auditLog(user: user, since: since, afterID: afterID)

        case .regenerateRecoveryCodes(let user, let code):
            switch try await store.regenerateRecoveryCodes(user: user, code: code, now: now, source: source) {
            case .regenerated(let codes): return Response(.ok, codes.map { .string(.recoveryCode, $0) })
            case .refused(let outcome): return Self.response(for: outcome)
            }

        case .resync(let user, let code, let nextCode):
            return Self.response(
                for: try await store.resync(user: user, code: code, nextCode: nextCode, now: now, source: source))
        }
    }

    /// Whether the PAM module should ask for a code at all.
    private func precheck(user: String, context: AuditContext, now: Int64) async throws -> Response {
        // Unknown accounts are prompted like anyone, so the dialogue does not reveal them. STATE
        // lets a module configured with unenrolled=allow skip users without an enrollment; with
        // the default (deny) the module prompts whatever the state.
        guard let account = UserDirectory.account(named: user) else {
            return Response(.ok, [.string(.state, EnrollmentState.none.rawValue)])
        }
        if !configuration.secondFactor.requiresCode(user: user, groups: UserDirectory.groupNames(of: account)) {
            return Response(.exempt)
        }
        if let service = context.service, let period = configuration.gracePeriods[service], period > 0,
            let origin = context.origin,
            try await store.withinGracePeriod(user: user, service: service, origin: origin, period: period, now: now)
        {
            return Response(.grace)
        }
        return Response(.ok, [.string(.state, try await store.status(user: user, now: now).state.rawValue)])
    }

    private func beginEnrollment(
        user: String, proof: String?, caller: PeerCredentials, now: Int64, source: AuditSource
    ) async throws -> Response {
        guard UserDirectory.uid(ofUser: user) != nil else { return .failure(.unknownUser, "no account named \(user)") }
        let authority: Store.EnrollmentAuthority = isAdmin(caller) ? .admin : .owner(proof: proof.flatMap(SubmittedCode.init))
        switch try await startEnrollment(user: user, authority: authority, now: now, source: source) {
        case .proofRequired:
            return .failure(
                .denied,
                "\(user) is already enrolled: to replace the enrollment give a current code or a recovery code "
                    + "(totpctl enroll --replace), or ask an administrator")
        case .proofRefused(let outcome):
            return Self.response(for: outcome)
        case .alreadyEnrolled:
            preconditionFailure("only a login enrollment is refused for being enrolled")
        case .started(let secret, let expiresAt):
            return Response(.ok, enrollmentFields(user: user, secret: secret, uri: uri(user: user, secret: secret), expiresAt: expiresAt))
        }
    }

    /// The first-login enrollment: only where the configuration allows it for the PAM service,
    /// only for an existing account without an active enrollment. The answer carries the QR
    /// code drawn as text, because the module must not depend on a QR library.
    private func beginLoginEnrollment(user: String, context: AuditContext, now: Int64, source: AuditSource) async throws -> Response {
        guard let service = context.service, configuration.allowsEnrollmentAtLogin(service: service) else {
            try await store.recordRefusal(
                operation: Operation.loginEnroll.name, user: user, reason: "not-allowed-for-service", now: now, source: source)
            return .failure(.denied, "enrollment at login is not enabled for service \(context.service ?? "(none)")")
        }
        guard UserDirectory.uid(ofUser: user) != nil else { return .failure(.unknownUser, "no account named \(user)") }
        switch try await startEnrollment(user: user, authority: .login, now: now, source: source) {
        case .alreadyEnrolled:
            return .failure(.denied, "\(user) is already enrolled")
        case .proofRequired, .proofRefused:
            preconditionFailure("a login enrollment asks for no proof")
        case .started(let secret, let expiresAt):
            let uri = uri(user: user, secret: secret)
            var fields = enrollmentFields(user: user, secret: secret, uri: uri, expiresAt: expiresAt)
            // A very long account or issuer name could make the drawing too big for one answer;
            // the module then shows the secret alone.
            if let code = try? QRCode(encoding: uri.string) {
                let drawing = QRRenderer.render(code, style: .utf8)
                if drawing.utf8.count <= FieldTag.qr.maxLength { fields.append(.string(.qr, drawing)) }
            }
            return Response(.ok, fields)
        }
    }

    private func startEnrollment(
        user: String, authority: Store.EnrollmentAuthority, now: Int64, source: AuditSource
    ) async throws -> Store.BeginOutcome {
        try await store.beginEnrollment(
            user: user, parameters: configuration.newEnrollmentParameters, lifetime: configuration.enrollmentLifetime,
            authority: authority, now: now, source: source)
    }

    private func uri(user: String, secret: [UInt8]) -> OTPAuthURI {
        OTPAuthURI(
            issuer: configuration.resolvedIssuer, account: user, secret: secret, parameters: configuration.newEnrollmentParameters)
    }

    private func enrollmentFields(user: String, secret: [UInt8], uri: OTPAuthURI, expiresAt: Int64) -> [WireField] {
        [
            .string(.user, user), .string(.secret, Base32.encode(secret)), .string(.uri, uri.string),
            .u64(.expiresAt, UInt64(expiresAt)),
        ]
    }

    /// As many rows as fit in one response; the client asks again after the last id it got.
    private func auditLog(user: String?, since: Int64?, afterID: Int64) async throws -> Response {
        var fields: [WireField] = []
        var size = 2
        for entry in try await store.auditLog(user: user, since: since, afterID: afterID, limit: 500) {
            let record = WireField.record(entry.fields)
            size += 3 + record.value.count
            guard size <= WireProtocol.maxResponseBody else { break }
            fields.append(record)
        }
        return Response(.ok, fields)
    }

    static func response(for outcome: Store.VerifyOutcome) -> Response {
        switch outcome {
        case .accepted: Response(.ok)
        case .rejected, .replayed: Response(.rejected)
        case .notEnrolled: Response(.notEnrolled)
        case .locked(let retryAfter?):
            Response(
                .locked,
                [.u64(.retryAfter, UInt64(max(retryAfter, 1))), .string(.message, "too many attempts; try again in \(max(retryAfter, 1)) s")])
        case .locked(nil):
            .failure(.locked, "locked after too many failed attempts; an administrator must run: totpctl unlock")
        }
    }
}

extension EnrollmentStatus {
    var fields: [WireField] {
        var fields: [WireField] = [
            .string(.user, user), .string(.state, state.rawValue), .u64(.failures, UInt64(failures)),
            .u64(.recoveryCodesLeft, UInt64(recoveryCodesLeft)),
        ]
        for (tag, value) in [
            (FieldTag.expiresAt, expiresAt), (.activatedAt, activatedAt), (.lastSuccessAt, lastSuccessAt), (.lockedUntil, lockedUntil),
        ] {
            if let value { fields.append(.u64(tag, UInt64(value))) }
        }
        return fields
    }

    /// The inverse of `fields`, for clients.
    package init?(fields: [WireField]) {
        func value(_ tag: FieldTag) -> WireField? { fields.first { $0.tag == tag.rawValue } }
        func time(_ tag: FieldTag) -> Int64? { value(tag)?.u64Value.map { Int64(clamping: $0) } }
        guard let user = value(.user)?.stringValue, let state = value(.state)?.stringValue.flatMap(EnrollmentState.init)
        else { return nil }
        self.init(
            user: user, state: state, expiresAt: time(.expiresAt), activatedAt: time(.activatedAt),
            lastSuccessAt: time(.lastSuccessAt), failures: Int(time(.failures) ?? 0), lockedUntil: time(.lockedUntil),
            recoveryCodesLeft: Int(time(.recoveryCodesLeft) ?? 0))
    }
}

extension Store.AuditEntry {
    var fields: [WireField] {
        var fields: [WireField] = [
            .u64(.id, UInt64(id)), .u64(.time, UInt64(time)), .string(.event, event), .string(.result, result),
            .u64(.callerUID, UInt64(callerUID)), .u64(.callerPID, UInt64(callerPID)),
        ]
        for (tag, value) in [(FieldTag.user, user), (.service, service), (.rhost, rhost), (.tty, tty)] {
            if let value { fields.append(.string(tag, value)) }
        }
        return fields
    }
}
