/// What libpam does with one module's return value: a control flag of a PAM configuration line
/// (`required`, or `[success=done default=die]`), expanded as libpam's pam_handlers.c does.
package struct PAMControl: Sendable, Equatable {
    package enum Action: Sendable, Hashable {
        case ignore, ok, done, bad, die, reset
        /// Skip this many of the following modules.
        case jump(Int)
    }

    /// Every value a module may return, by the names a `[...]` control gives them
    /// (`_pam_token_returns` of libpam's pam_tokens.h).
    package enum Result: String, Sendable, CaseIterable {
        case success, openErr = "open_err", symbolErr = "symbol_err", serviceErr = "service_err", systemErr = "system_err"
        case bufErr = "buf_err", permDenied = "perm_denied", authErr = "auth_err", credInsufficient = "cred_insufficient"
        case authinfoUnavail = "authinfo_unavail", userUnknown = "user_unknown", maxtries, newAuthtokReqd = "new_authtok_reqd"
        case acctExpired = "acct_expired", sessionErr = "session_err", credUnavail = "cred_unavail", credExpired = "cred_expired"
        case credErr = "cred_err", noModuleData = "no_module_data", convErr = "conv_err", authtokErr = "authtok_err"
        case authtokRecoverErr = "authtok_recover_err", authtokLockBusy = "authtok_lock_busy"
        case authtokDisableAging = "authtok_disable_aging", tryAgain = "try_again", ignore, abort
        case authtokExpired = "authtok_expired", moduleUnknown = "module_unknown", badItem = "bad_item"
        case convAgain = "conv_again", incomplete

        package static let failures = allCases.filter { $0 != .success }
    }

    /// Two results a walk must follow apart: what the control does with them, and for `ok` and
    /// `done`, the only actions that record a result, whether it is success or ignore (which
    /// records nothing).
    private struct Behaviour: Hashable {
        var action: Action
        var recorded: Result?

        init(_ action: Action, _ result: Result) {
            self.action = action
            let records = action == .ok || action == .done
            recorded = records && (result == .success || result == .ignore) ? result : records ? .authErr : nil
        }
    }

    /// The control as written, for messages.
    package let text: String
    /// One of required, requisite, sufficient and optional, not a `[...]` of its own.
    package let isKeyword: Bool
    private let actions: [Result: Action]
    private let defaultAction: Action

    package func action(for result: Result) -> Action { actions[result] ?? defaultAction }

    /// One of `results` for each different thing this line does with them: the walk follows
    /// one of those that act alike.
    package func distinctResults(_ results: [Result]) -> [Result] {
        var seen: Set<Behaviour> = []
        return results.filter { seen.insert(Behaviour(action(for: $0), $0)).inserted }
    }

    /// nil for a control libpam would not accept. Keywords are taken in any case, a bracket's
    /// names and actions only as written (_pam_parse_control).
    package init?(_ text: String) {
        self.text = text
        isKeyword = !text.hasPrefix("[")
        switch text.lowercased() {
        case "required": (actions, defaultAction) = ([.success: .ok, .newAuthtokReqd: .ok, .ignore: .ignore], .bad)
        case "requisite": (actions, defaultAction) = ([.success: .ok, .newAuthtokReqd: .ok, .ignore: .ignore], .die)
        case "sufficient": (actions, defaultAction) = ([.success: .done, .newAuthtokReqd: .done], .ignore)
        case "optional": (actions, defaultAction) = ([.success: .ok, .newAuthtokReqd: .ok], .ignore)
        default:
            guard text.hasPrefix("["), text.hasSuffix("]") else { return nil }
            var actions: [Result: Action] = [:]
            // Values a bracket leaves out are `bad`, unless it names a default. libpam takes the
            // last of a value named twice, but the first default: each fills what is unset.
            var defaultAction: Action?
            // The blanks of C's isspace, and no others.
            let blanks: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D]
            let pairs = text.utf8.dropFirst().dropLast().split { blanks.contains($0) }
            for pair in pairs.map({ String(decoding: $0, as: UTF8.self) }) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2, let action = Self.action(named: parts[1]) else { return nil }
                if parts[0] == "default" {
                    defaultAction = defaultAction ?? action
                } else if let result = Result(rawValue: parts[0]) {
                    actions[result] = action
                } else {
                    return nil
                }
            }
            (self.actions, self.defaultAction) = (actions, defaultAction ?? .bad)
        }
    }

    /// What libpam makes of a control it cannot parse: every value is bad.
    package init(unreadable text: String) {
        (self.text, isKeyword, actions, defaultAction) = (text, false, [:], .bad)
    }

    private static func action(named name: String) -> Action? {
        switch name {
        case "ignore": .ignore
        case "ok": .ok
        case "done": .done
        case "bad": .bad
        case "die": .die
        case "reset": .reset
        // atoi after a digit: no sign, no space.
        default: name.utf8.first.map { (0x30...0x39).contains($0) } == true ? Int(name).flatMap { $0 > 0 ? .jump($0) : nil } : nil
        }
    }
}
