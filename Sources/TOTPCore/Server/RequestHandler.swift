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
        do {
            if let refusal = authorize(request, caller: caller) {
                try await store.recordRefusal(
                    operation: request.operation.name, user: request.user, reason: refusal.reason, now: now, source: source)
                logger.notice("request refused", metadata: metadata.merging(["reason": "\(refusal.reason)"]) { $1 })
                return refusal.response
            }
            let response = try await perform(request, caller: caller, now: now, source: source)
            metadata["result"] = "\(response.result)"
            logger.info("request handled", metadata: metadata)
            return response
        } catch {
            logger.error("request failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return .failure(.internalError, "the daemon could not complete the request; see its log")
        }
    }

    private struct Refusal {
        var reason: String
        var response: Response
    }

    private func authorize(_ request: Request, caller: PeerCredentials) -> Refusal? {
        if caller.isRoot { return nil }
        switch request {
        case .list, .revoke:
            return Refusal(reason: "not-admin", response: .failure(.denied, "\(request.operation.name) needs root"))
        case .verify(let user, _, _), .enrollBegin(let user), .enrollConfirm(let user, _), .status(let user):
            guard UserDirectory.uid(ofUser: user) == caller.uid else {
                return Refusal(
                    reason: "other-user",
                    response: .failure(.denied, "uid \(caller.uid) may only act on its own account, not \(user)"))
            }
            return nil
        }
    }

    private func perform(
        _ request: Request, caller: PeerCredentials, now: Int64, source: AuditSource
    ) async throws -> Response {
        switch request {
        case .verify(let user, let code, _):
            switch try await store.verify(
                user: user, code: code, window: configuration.window, now: now, source: source)
            {
            case .accepted: return Response(.ok)
            case .rejected, .replayed: return Response(.rejected)
            case .notEnrolled: return Response(.notEnrolled)
            }

        case .enrollBegin(let user):
            guard UserDirectory.uid(ofUser: user) != nil else {
                return .failure(.unknownUser, "no account named \(user)")
            }
            let parameters = configuration.newEnrollmentParameters
            switch try await store.beginEnrollment(
                user: user, parameters: parameters, lifetime: configuration.enrollmentLifetime,
                replacingActive: caller.isRoot, now: now, source: source)
            {
            case .alreadyActive:
                return .failure(.denied, "\(user) is already enrolled; an administrator must revoke it first")
            case .started(let secret, let expiresAt):
                let uri = OTPAuthURI(issuer: configuration.resolvedIssuer, account: user, secret: secret, parameters: parameters)
                return Response(
                    .ok,
                    [
                        .string(.user, user), .string(.secret, Base32.encode(secret)), .string(.uri, uri.string),
                        .u64(.expiresAt, UInt64(expiresAt)),
                    ])
            }

        case .enrollConfirm(let user, let code):
            switch try await store.confirmEnrollment(
                user: user, code: code, window: configuration.window, now: now, source: source)
            {
            case .activated: return Response(.ok)
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
        }
    }
}

extension Request {
    var auditContext: AuditContext {
        if case .verify(_, _, let context) = self { return context }
        return AuditContext()
    }
}

extension EnrollmentStatus {
    var fields: [WireField] {
        var fields: [WireField] = [.string(.user, user), .string(.state, state.rawValue), .u64(.failures, UInt64(failures))]
        for (tag, value) in [(FieldTag.expiresAt, expiresAt), (.activatedAt, activatedAt), (.lastSuccessAt, lastSuccessAt)] {
            if let value { fields.append(.u64(tag, UInt64(value))) }
        }
        return fields
    }

    /// The inverse of `fields`, for clients.
    package init?(fields: [WireField]) {
        func value(_ tag: FieldTag) -> WireField? { fields.first { $0.tag == tag.rawValue } }
        guard let user = value(.user)?.stringValue, let state = value(.state)?.stringValue.flatMap(EnrollmentState.init)
        else { return nil }
        self.init(
            user: user, state: state, expiresAt: value(.expiresAt)?.u64Value.map { Int64($0) },
            activatedAt: value(.activatedAt)?.u64Value.map { Int64($0) },
            lastSuccessAt: value(.lastSuccessAt)?.u64Value.map { Int64($0) },
            failures: Int(value(.failures)?.u64Value ?? 0))
    }
}
