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

    /// nil for a control libpam would not accept. libpam takes the brackets off the word first
    /// (so `[required]` is required, and `success=done` reads as `[success=done]`), then a
    /// keyword in any case, or what is inside as _pam_parse_control reads it: each name of a
    /// value or `default`, `=`, an action, with C blanks allowed around them and needed nowhere.
    package init?(_ text: String) {
        self.text = text
        let body = PAMStack.unbracketed(text)
        isKeyword = ["required", "requisite", "sufficient", "optional"].contains(body.lowercased())
        switch body.lowercased() {
        case "required": (actions, defaultAction) = ([.success: .ok, .newAuthtokReqd: .ok, .ignore: .ignore], .bad)
        case "requisite": (actions, defaultAction) = ([.success: .ok, .newAuthtokReqd: .ok, .ignore: .ignore], .die)
        case "sufficient": (actions, defaultAction) = ([.success: .done, .newAuthtokReqd: .done], .ignore)
        case "optional": (actions, defaultAction) = ([.success: .ok, .newAuthtokReqd: .ok], .ignore)
        default:
            // libpam's array of actions, as C ints: unset, then each pair in turn, a default
            // filling what is unset at that moment, and at the end `bad` filling the rest.
            var codes = [Result: Int32](uniqueKeysWithValues: Result.allCases.map { ($0, Self.unset) })
            var rest = Array(body.utf8)[...]
            // C's isspace.
            let skipBlanks = { while let byte = rest.first, [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D].contains(byte) { rest.removeFirst() } }
            let take = { (word: String) -> Bool in
                guard rest.starts(with: word.utf8) else { return false }
                rest.removeFirst(word.utf8.count)
                return true
            }
            while true {
                skipBlanks()
                guard !rest.isEmpty else { break }
                let name = (Result.allCases.map(\.rawValue) + ["default"]).first(where: take)
                guard let name, !rest.isEmpty else { return nil }
                skipBlanks()
                guard rest.popFirst() == UInt8(ascii: "=") else { return nil }
                skipBlanks()
                let named = Self.actionNames.firstIndex { take($0.name) }.map { -Int32($0) }
                guard let code = named ?? Self.jump(&rest) else { return nil }
                if let result = Result(rawValue: name) {
                    codes[result] = code
                } else {
                    for (result, old) in codes where old == Self.unset { codes[result] = code }
                }
            }
            actions = codes.mapValues { code in code == Self.unset ? .bad : Self.action(code) }
            defaultAction = .bad
        }
    }

    /// What libpam makes of a control it cannot parse: every value is bad.
    package init(unreadable text: String) {
        (self.text, isKeyword, actions, defaultAction) = (text, false, [:], .bad)
    }

    /// _PAM_ACTION_UNDEF.
    private static let unset: Int32 = -6

    /// In libpam's order: the action `ignore` is 0, `ok` -1, and so on to `reset`, -5.
    private static let actionNames: [(name: String, action: Action)] = [
        ("ignore", .ignore), ("ok", .ok), ("done", .done), ("bad", .bad), ("die", .die), ("reset", .reset),
    ]

    /// What libpam's dispatch does with a code: a positive one jumps, one of the named actions
    /// is that action, and any other ("bad jump in stack") fails the stack and goes on, as bad.
    private static func action(_ code: Int32) -> Action {
        code > 0 ? .jump(Int(code)) : code >= -5 ? actionNames[Int(-code)].action : .bad
    }

    /// A jump's digits, summed in a C int as libpam sums them: past 2^31 the count wraps, to
    /// an action's code or another jump. 0 is refused.
    private static func jump(_ rest: inout ArraySlice<UInt8>) -> Int32? {
        let digits = rest.prefix { (0x30...0x39).contains($0) }
        rest.removeFirst(digits.count)
        let code = digits.reduce(Int32(0)) { $0 &* 10 &+ Int32($1 - 0x30) }
        return digits.isEmpty || code == 0 ? nil : code
    }
}
