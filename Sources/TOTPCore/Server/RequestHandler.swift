import GRDB
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Decides who may do what (`Authorization`), runs the store operation and shapes the response.
/// Authorization uses only the kernel-reported caller and the account database, never anything
/// the request claims; every decision keys on the canonical account name the database returns.
package struct RequestHandler: Sendable {
    let store: Store
    let configuration: DaemonConfiguration
    let directory: any AccountDirectory
    let clock: any WallClock
    let logger: Logger
    let logLimiter: LogLimiter
    let metrics: DaemonMetrics

    package init(
        store: Store, configuration: DaemonConfiguration, directory: any AccountDirectory, clock: any WallClock,
        logger: Logger, logLimiter: LogLimiter, metrics: DaemonMetrics? = nil
    ) {
        self.store = store
        self.configuration = configuration
        self.directory = directory
        self.clock = clock
        self.logger = logger
        self.logLimiter = logLimiter
        self.metrics = metrics ?? DaemonMetrics(startTime: clock.unixTime())
    }

    /// The account a request names, as the directory knows it.
    struct Target {
        /// The canonical name when the account exists, else the name as sent.
        var name: String
        /// nil when the directory has no such account, or was not asked (`resolution`).
        var account: UserDirectory.Account?
        var kind: Authorization.TargetKind
        var resolution = Resolution.directory
    }

    /// How the target's name was settled. Enrollments are keyed by canonical names, so on the
    /// login stack's path (root's PRECHECK and VERIFY) a name that is exactly a key needs no
    /// directory lookup, and a login costs no scan of /etc/passwd; root may act on any account,
    /// so its kind is not looked up either.
    enum Resolution {
        /// Looked up in the directory.
        case directory
        /// PRECHECK: the name is a key; its status, read while finding that out.
        case enrollmentKey(EnrollmentStatus)
        /// VERIFY: tried as a key inside the verification's own transaction, and looked up
        /// only if it is not one.
        case tryAsKey
    }

    package func handle(_ request: Request, caller: PeerCredentials) async -> Response {
        let started = ContinuousClock.now
        let response = await respond(to: request, caller: caller)
        metrics.recordAnswer(request.operation, response.result, elapsed: started.duration(to: .now))
        return response
    }

    private func respond(to request: Request, caller: PeerCredentials) async -> Response {
        let source = AuditSource(caller: caller, context: request.auditContext)
        let now = clock.unixTime()
        var metadata: Logger.Metadata = [
            "operation": "\(request.operation.name)", "caller_uid": "\(caller.uid)", "caller_pid": "\(caller.pid)",
        ]
        if let user = request.user { metadata["user"] = "\(user)" }
        for (key, value) in [("service", source.context.service), ("rhost", source.context.rhost), ("tty", source.context.tty)] {
            if let value { metadata[key] = "\(value)" }
        }
        await housekeeping(now: now)
        do {
            let spec = request.operation.spec
            let callerKind = try await kind(of: caller, for: spec.access)
            let target = try await self.target(of: request, caller: caller, callerKind: callerKind, now: now)
            if let target, target.name != request.user { metadata["account"] = "\(target.name)" }
            let decision = Authorization.decide(spec.access, caller: callerKind, target: target?.kind ?? .none)
            if case .deny(let refusal) = decision {
                try await store.recordRefusal(spec.event, user: target?.name, reason: refusal, now: now, source: source)
                logLimiter.log(
                    .notice, "request refused", uid: caller.uid,
                    metadata: metadata.merging(["reason": "\(refusal.rawValue)"]) { $1 }, now: now)
                let account = target.map { " for \($0.name)" } ?? ""
                return .failure(.denied, "uid \(caller.uid) may not \(spec.name)\(account): \(refusal.explanation)")
            }
            let response = try await perform(
                request, target: target, decision: decision, caller: caller, now: now, source: source)
            metadata["result"] = "\(response.result)"
            if response.result == .locked {
                logLimiter.log(.warning, "attempt refused: locked", uid: caller.uid, metadata: metadata, now: now)
            } else {
                logLimiter.log(.info, "request handled", uid: caller.uid, metadata: metadata, now: now)
            }
            return response
        } catch let error as UserDirectory.LookupError {
            return unavailable(error, metadata: metadata, caller: caller, now: now)
        } catch let error as LookupPool.Refusal {
            return unavailable(error, metadata: metadata, caller: caller, now: now)
        } catch {
            logLimiter.log(
                .error, Self.failureLine(error), uid: caller.uid, metadata: metadata.merging(["error": "\(error)"]) { $1 },
                now: now)
            return .failure(.internalError, "the daemon could not complete the request; see its log")
        }
    }

    /// The disk's faults get lines of their own: they are the admin's to fix, and not the request's.
    private static func failureLine(_ error: any Error) -> Logger.Message {
        switch (error as? DatabaseError)?.resultCode {
        case .SQLITE_FULL?: "the store could not be written: the disk is full"
        case .SQLITE_READONLY?, .SQLITE_IOERR?, .SQLITE_CANTOPEN?: "the store could not be written: the filesystem is read-only or failing"
        default: "request failed"
        }
    }

    /// The account database could not answer: the request fails closed, never as "no such user".
    private func unavailable(_ error: any Error, metadata: Logger.Metadata, caller: PeerCredentials, now: Int64) -> Response {
        logLimiter.log(.error, "account lookup failed", uid: caller.uid, metadata: metadata.merging(["error": "\(error)"]) { $1 }, now: now)
        return .failure(.internalError, "the account database did not answer; try again later")
    }

    private func housekeeping(now: Int64) async {
        do {
            try await store.maintain(now: now)
        } catch {
            logger.error("housekeeping failed", metadata: ["error": "\(error)"])
        }
        logLimiter.flush(now: now)
    }

    // MARK: Authorization

    /// Membership is read from the group database at the time of the request, so removing
    /// someone from the group takes effect at once; it is not read where `rule` treats admins
    /// like anyone (verifications, the login stack's operations).
    private func kind(of caller: PeerCredentials, for rule: Authorization.Rule) async throws -> Authorization.CallerKind {
        if caller.isRoot { return .root }
        guard Authorization.distinguishesAdmins(rule), let group = configuration.adminGroup, let account = try await directory.account(uid: caller.uid, for: caller.uid)
        else { return .user }
        return try await directory.isMember(account, ofGroup: group, for: caller.uid) ? .admin : .user
    }

    private func target(
        of request: Request, caller: PeerCredentials, callerKind: Authorization.CallerKind, now: Int64
    ) async throws -> Target? {
        guard let name = request.user else { return nil }
        if callerKind == .root {
            switch request.operation {
            case .verify:
                return Target(name: name, account: nil, kind: .otherUser, resolution: .tryAsKey)
            case .precheck:
                let status = try store.status(user: name, now: now)
                if status.state != .none {
                    return Target(name: name, account: nil, kind: .otherUser, resolution: .enrollmentKey(status))
                }
            default:
                break
            }
        }
        return try await directoryTarget(named: name, caller: caller, callerKind: callerKind)
    }

    private func directoryTarget(
        named name: String, caller: PeerCredentials, callerKind: Authorization.CallerKind
    ) async throws -> Target {
        guard let account = try await directory.account(named: name, for: caller.uid) else {
            return Target(name: name, account: nil, kind: .unknown)
        }
        let kind: Authorization.TargetKind
        if account.uid == caller.uid && !caller.isRoot {
            kind = .own
        } else if account.uid == 0 {
            kind = .root
        } else if callerKind == .admin, let group = configuration.adminGroup,
            try await directory.isMember(account, ofGroup: group, for: caller.uid)
        {
            kind = .otherAdmin
        } else {
            kind = .otherUser
        }
        return Target(name: account.name, account: account, kind: kind)
    }

    // MARK: Operations

    /// Runs an authorized request; `target` (present whenever the request names an account)
    /// gives the canonical name every store operation uses.
    private func perform(
        _ request: Request, target: Target?, decision: Authorization.Decision, caller: PeerCredentials, now: Int64,
        source: AuditSource
    ) async throws -> Response {
        let user = target?.name ?? ""
        switch request {
        case .verify(_, let code, _):
            if case .tryAsKey = target!.resolution,
                let outcome = try await store.verifyIfEnrollmentKey(user: user, code: code, now: now, source: source)
            {
                return Self.response(for: outcome)
            }
            let resolved = try await directoryTarget(named: user, caller: caller, callerKind: caller.isRoot ? .root : .user)
            return Self.response(for: try await store.verify(user: resolved.name, code: code, now: now, source: source))

        case .precheck(_, let context):
            return try await precheck(target: target!, context: context, caller: caller, now: now)

        case .enrollBegin(_, let proof):
            guard target?.account != nil else { return .failure(.unknownUser, "no account named \(user)") }
            let authority: Store.EnrollmentAuthority = decision == .allow ? .admin : .owner(proof: proof)
            return try await beginEnrollment(user: user, authority: authority, now: now, source: source)

        case .loginEnroll(_, let context):
            return try await beginLoginEnrollment(target: target!, context: context, now: now, source: source)

        case .enrollConfirm(_, let code, _):
            switch try await store.confirmEnrollment(user: user, code: code.digits ?? "", now: now, source: source) {
            case .activated(let codes): return Response(.ok, codes.map { .string(.recoveryCode, $0) })
            case .rejected: return .failure(.rejected, "the code does not match the new secret")
            case .voided:
                return .failure(.notEnrolled, "too many wrong codes: the new enrollment was cancelled; start again")
            case .locked(let retryAfter): return Self.response(for: .locked(retryAfter: retryAfter))
            case .notPending: return .failure(.notEnrolled, "\(user) has no pending enrollment (it may have expired)")
            }

        case .status:
            return Response(.ok, try store.status(user: user, now: now).fields)

        case .list(let afterUser):
            // As many records as one response holds (after its 2 header bytes); the client asks
            // again after the last name.
            let records = try await store.list(afterUser: afterUser, now: now, budget: WireProtocol.maxResponseBody - 2) {
                let record = WireField.record($0.fields)
                return (record, 3 + record.value.count)
            }
            return Response(.ok, records)

        case .revoke, .reset:
            let removal: Store.Removal = request.operation == .revoke ? .revoke : .reset
            return try await store.remove(removal, user: user, existingAccount: target?.account != nil, now: now, source: source)
                ? Response(.ok) : .failure(.notEnrolled, "\(user) has nothing to \(request.operation.name)")

        case .unlock:
            return try await store.unlock(user: user, now: now, source: source)
                ? Response(.ok) : .failure(.notEnrolled, "\(user) has no active enrollment")

        case .auditLog(_, let since, let afterID):
            return try await auditLog(user: target?.name, since: since, afterID: afterID)

        case .regenerateRecoveryCodes(_, let code):
            switch try await store.regenerateRecoveryCodes(user: user, code: code.digits ?? "", now: now, source: source) {
            case .regenerated(let codes): return Response(.ok, codes.map { .string(.recoveryCode, $0) })
            case .refused(let outcome): return Self.response(for: outcome)
            }

        case .resync(_, let code, let nextCode):
            return Self.response(
                for: try await store.resync(
                    user: user, code: code.digits ?? "", nextCode: nextCode.digits ?? "", now: now, source: source))

        case .rotateKey:
            do {
                let rotation = try await store.rotateKey(now: now, source: source)
                logger.notice(
                    "store key rotated",
                    metadata: ["previous_key": "\(rotation.previousKey)", "key": "\(rotation.newKey)", "resealed": "\(rotation.resealed)"])
                return Response(.ok, [.string(.keyID, rotation.newKey), .u64(.count, UInt64(rotation.resealed))])
            } catch let busy as Store.RotationBusy {
                return .failure(.internalError, busy.description)
            }

        case .metrics:
            let accounts = try await store.accountFigures(now: now)
            return Response(.ok, [.string(.metrics, metrics.exposition(accounts: accounts))])
        }
    }

    /// Whether the PAM module should ask for a code at all. The store decides whether the user
    /// is enrolled, whatever the directory says; a user the directory does not know is never
    /// exempt, and is prompted like anyone (the dialogue does not reveal accounts). STATE lets a
    /// module configured with unenrolled=allow skip users without an enrollment.
    private func precheck(target: Target, context: AuditContext, caller: PeerCredentials, now: Int64) async throws -> Response {
        var state: EnrollmentState
        if case .enrollmentKey(let status) = target.resolution {
            state = status.state
        } else {
            state = try store.status(user: target.name, now: now).state
        }
        if target.account == nil, state == .none {
            // Unknown to the directory, but maybe enrolled under another spelling (a directory
            // that answers only for the canonical one): any such enrollment means "ask".
            for name in try await store.enrolledNames(matchingCaseInsensitively: target.name) {
                let other = try store.status(user: name, now: now).state
                if other != .none { state = other }
            }
        }
        // Only an account the directory knows, or a name that is itself an enrollment's key, can
        // be exempt: another spelling of an enrolled name is asked for a code like any unknown one.
        var isKey = false
        if case .enrollmentKey = target.resolution { isKey = true }
        if target.account != nil || isKey {
            // The account is looked up only if the policy names a group, and an account the
            // directory does not know is never exempt.
            var unknown = false
            let requires = try await configuration.secondFactor.requiresCode(user: target.name) { group in
                var account = target.account
                if account == nil { account = try await directory.account(named: target.name, for: caller.uid) }
                guard let account else {
                    unknown = true
                    return false
                }
                return try await directory.isMember(account, ofGroup: group, for: caller.uid)
            }
            if !requires && !unknown { return Response(.exempt) }
        }
        if state == .active, let service = context.service, let period = configuration.gracePeriods[service], period > 0,
            let origin = context.origin,
            try store.withinGracePeriod(user: target.name, service: service, origin: origin, period: period, now: now)
        {
            return Response(.grace)
        }
        return Response(.ok, [.string(.state, state.rawValue)])
    }

    private func beginEnrollment(
        user: String, authority: Store.EnrollmentAuthority, now: Int64, source: AuditSource
    ) async throws -> Response {
        switch try await startEnrollment(user: user, authority: authority, now: now, source: source) {
        case .proofRequired:
            return .failure(
                .denied,
                "\(user) is already enrolled: to replace the enrollment give a current code or a recovery code "
                    + "of \(user) (totpctl enroll --replace), or ask root")
        case .proofRefused(let outcome):
            return Self.response(for: outcome)
        case .revokedUntilReset:
            return .failure(.denied, "\(user)'s second factor was revoked: an administrator must reset it (totpctl reset \(user)) or enroll it")
        case .alreadyEnrolled:
            preconditionFailure("only a login enrollment is refused for being enrolled")
        case .started(let secret, let expiresAt):
            return Response(.ok, enrollmentFields(user: user, secret: secret, uri: uri(user: user, secret: secret), expiresAt: expiresAt))
        }
    }

    /// The first-login enrollment: only where the configuration allows it for the PAM service,
    /// only for an existing account without an active or revoked enrollment. The answer carries
    /// the QR code drawn as text, because the module must not depend on a QR library.
    private func beginLoginEnrollment(target: Target, context: AuditContext, now: Int64, source: AuditSource) async throws -> Response {
        guard let service = context.service, configuration.allowsEnrollmentAtLogin(service: service) else {
            try await store.recordRefusal(.loginEnroll, user: target.name, reason: .notAllowedForService, now: now, source: source)
            return .failure(.denied, "enrollment at login is not enabled for service \(context.service ?? "(none)")")
        }
        guard target.account != nil else { return .failure(.unknownUser, "no account named \(target.name)") }
        let user = target.name
        switch try await startEnrollment(user: user, authority: .login, now: now, source: source) {
        case .alreadyEnrolled:
            return .failure(.denied, "\(user) is already enrolled")
        case .revokedUntilReset:
            return .failure(.denied, "\(user)'s second factor was revoked; an administrator must reset it")
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
            .u64(.callerUID, UInt64(callerUID)), .u64(.callerPID, UInt64(callerPID)), .u64(.count, UInt64(max(count, 0))),
        ]
        for (tag, value) in [(FieldTag.user, user), (.service, service), (.rhost, rhost), (.tty, tty)] {
            if let value { fields.append(.string(tag, value)) }
        }
        return fields
    }
}
