/// Everything about one operation in one place: its name (also its audit event), the request
/// fields it accepts, and the authorization rule it follows.
package struct OperationSpec: Sendable {
    package let event: AuditEvent
    package let fields: Set<FieldTag>
    package let access: Authorization.Rule

    package var name: String { event.rawValue }
}

extension Operation {
    package var spec: OperationSpec {
        let context: Set<FieldTag> = [.service, .rhost, .tty]
        return switch self {
        case .verify: OperationSpec(event: .verify, fields: context.union([.user, .code]), access: .ownUnlessRoot)
        case .precheck: OperationSpec(event: .precheck, fields: context.union([.user]), access: .ownUnlessRoot)
        case .resync: OperationSpec(event: .resync, fields: [.user, .code, .nextCode], access: .ownUnlessRoot)
        case .regenerateRecoveryCodes:
            OperationSpec(event: .recoveryRegenerate, fields: [.user, .code], access: .ownUnlessRoot)
        case .status: OperationSpec(event: .status, fields: [.user], access: .ownUnlessAdmin)
        case .enrollConfirm:
            OperationSpec(event: .enrollConfirm, fields: context.union([.user, .code]), access: .enrollment)
        case .enrollBegin: OperationSpec(event: .enrollBegin, fields: [.user, .code], access: .enrollment)
        case .list: OperationSpec(event: .list, fields: [.afterUser], access: .adminOnly)
        case .auditLog: OperationSpec(event: .auditLog, fields: [.user, .since, .afterID], access: .adminOnly)
        case .revoke: OperationSpec(event: .revoke, fields: [.user], access: .adminOverUsers)
        case .reset: OperationSpec(event: .reset, fields: [.user], access: .adminOverUsers)
        case .unlock: OperationSpec(event: .unlock, fields: [.user], access: .adminOverUsers)
        case .loginEnroll: OperationSpec(event: .loginEnroll, fields: context.union([.user]), access: .rootOnly)
        case .rotateKey: OperationSpec(event: .rotateKey, fields: [], access: .rootOnly)
        case .metrics: OperationSpec(event: .metrics, fields: [], access: .adminOnly)
        }
    }
}

extension Operation {
    package var name: String { spec.name }
}
