/// Who may run what, as one pure function of three kinds (docs/SECURITY.md, "Authorization",
/// prints `markdownTable()`; a test keeps the two identical). The kinds come from the kernel's
/// view of the caller and the account database's view of the target, never from the request.
package enum Authorization {
    /// The caller: root (the login stack, or an administrator's root shell), a member of
    /// `admin_group`, or any other account.
    package enum CallerKind: String, Sendable, CaseIterable {
        case root, admin, user
    }

    /// The account a request is about, relative to the caller.
    package enum TargetKind: String, Sendable, CaseIterable {
        /// The caller's own account (for a non-root caller).
        case own
        /// An account that is neither root nor in the admin group.
        case otherUser = "other user"
        /// uid 0.
        case root
        /// Another member of the admin group.
        case otherAdmin = "other admin"
        /// No such account.
        case unknown
        /// The request names no account (list, the whole audit log).
        case none
    }

    /// Which of the decision rules an operation follows (`OperationSpec.access`).
    package enum Rule: String, Sendable, CaseIterable {
        /// Root on anyone; everyone else on their own account.
        case ownUnlessRoot
        /// Root and admins on anyone; everyone else on their own account.
        case ownUnlessAdmin
        /// Starting or confirming an enrollment: admins on ordinary users outright; every account
        /// on its own, replacing an active factor only with its proof (a current code or a
        /// recovery code); root's and other admins' enrollments only by root or that account.
        case enrollment
        /// Root and admins.
        case adminOnly
        /// Changes to an enrollment with no proof at all: admins only on ordinary users, so an
        /// admin cannot take over root or another admin, nor reset their own lockout.
        case adminOverUsers
        /// Root only: the PAM module inside a login, and rotating the store key.
        case rootOnly
    }

    package enum Decision: Sendable, Equatable {
        case allow
        /// Allowed for the account itself; its active enrollment is replaced only with its proof.
        case allowWithProof
        case deny(AccessRefusal)
    }

    package static func decide(_ rule: Rule, caller: CallerKind, target: TargetKind) -> Decision {
        let guardedTarget = target == .own || target == .root || target == .otherAdmin
        let privilegedTarget = target == .root || target == .otherAdmin
        switch (rule, caller) {
        case (.rootOnly, .root): return .allow
        case (.rootOnly, _): return .deny(.notRoot)
        case (_, .root): return .allow
        case (.adminOnly, .admin): return .allow
        case (.adminOnly, .user), (.adminOverUsers, .user): return .deny(.notAdmin)
        case (.ownUnlessRoot, _): return target == .own ? .allow : .deny(.otherUser)
        case (.ownUnlessAdmin, .admin): return .allow
        case (.ownUnlessAdmin, .user): return target == .own ? .allow : .deny(.otherUser)
        case (.enrollment, .admin): return privilegedTarget ? .deny(.needsRoot) : target == .own ? .allowWithProof : .allow
        case (.enrollment, .user): return target == .own ? .allowWithProof : .deny(.otherUser)
        case (.adminOverUsers, .admin): return guardedTarget ? .deny(.needsRoot) : .allow
        }
    }

    /// Whether an admin and an ordinary user can be told apart by `rule` at all: where they
    /// cannot, the caller's group membership need not be looked up.
    static func distinguishesAdmins(_ rule: Rule) -> Bool {
        TargetKind.allCases.contains { decide(rule, caller: .admin, target: $0) != decide(rule, caller: .user, target: $0) }
    }

    /// The whole matrix as docs/SECURITY.md shows it: one row per rule and caller kind, one
    /// column per target kind.
    package static func markdownTable() -> String {
        let targets = TargetKind.allCases
        var lines = [
            "| operations | caller | " + targets.map(\.rawValue).joined(separator: " | ") + " |",
            "|---|---|" + String(repeating: "---|", count: targets.count),
        ]
        for rule in Rule.allCases {
            let names = Operation.allCases.filter { $0.spec.access == rule }.map { "`\($0.spec.name)`" }.joined(separator: ", ")
            for caller in CallerKind.allCases {
                let cells = targets.map { target -> String in
                    guard applies(rule, caller: caller, target: target) else { return "–" }
                    switch decide(rule, caller: caller, target: target) {
                    case .allow: return "yes"
                    case .allowWithProof: return "with proof"
                    case .deny(let reason): return "no (`\(reason.rawValue)`)"
                    }
                }
                lines.append("| \(names) | \(caller.rawValue) | " + cells.joined(separator: " | ") + " |")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Whether a request under `rule` from `caller` can be about such a target: only the
    /// admin-only and root-only operations may name no account (list, metrics, rotate-key);
    /// root's own account is the target "root".
    static func applies(_ rule: Rule, caller: CallerKind, target: TargetKind) -> Bool {
        (target != .none || rule == .adminOnly || rule == .rootOnly) && !(caller == .root && target == .own)
    }
}
