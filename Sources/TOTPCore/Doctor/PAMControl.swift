/// What libpam does with one module's return value: a control flag of a PAM configuration line
/// (`required`, or `[success=done default=die]`), expanded as libpam's pam_handlers.c does.
package struct PAMControl: Sendable, Equatable {
    package enum Action: Sendable, Equatable {
        case ignore, ok, done, bad, die, reset
        /// Skip this many of the following modules.
        case jump(Int)
    }

    /// The return values doctor follows through a stack; every other one acts as `default`.
    package enum Result: String, Sendable, CaseIterable {
        case success
        case ignore
        case authErr = "auth_err"
        case authinfoUnavail = "authinfo_unavail"
        case maxtries
        case newAuthtokReqd = "new_authtok_reqd"
    }

    /// The control as written, for messages.
    package let text: String
    private let actions: [Result: Action]
    private let defaultAction: Action

    package func action(for result: Result) -> Action { actions[result] ?? defaultAction }

    /// nil for a control libpam would not accept.
    package init?(_ text: String) {
        self.text = text
        switch text {
        case "required": (actions, defaultAction) = ([.success: .ok, .newAuthtokReqd: .ok, .ignore: .ignore], .bad)
        case "requisite": (actions, defaultAction) = ([.success: .ok, .newAuthtokReqd: .ok, .ignore: .ignore], .die)
        case "sufficient": (actions, defaultAction) = ([.success: .done, .newAuthtokReqd: .done], .ignore)
        case "optional": (actions, defaultAction) = ([.success: .ok, .newAuthtokReqd: .ok], .ignore)
        default:
            guard text.hasPrefix("["), text.hasSuffix("]") else { return nil }
            var actions: [Result: Action] = [:]
            // Values a bracket leaves out are `bad`, unless it names a default.
            var defaultAction = Action.bad
            for pair in text.dropFirst().dropLast().split(whereSeparator: \.isWhitespace) {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let action = Self.action(named: parts[1]) else { return nil }
                if parts[0] == "default" {
                    defaultAction = action
                } else if let result = Result(rawValue: parts[0]) {
                    actions[result] = action
                }
                // Other return values (open_err, cred_err, …) never come from the modules here.
            }
            (self.actions, self.defaultAction) = (actions, defaultAction)
        }
    }

    private static func action(named name: String) -> Action? {
        switch name {
        case "ignore": .ignore
        case "ok": .ok
        case "done": .done
        case "bad": .bad
        case "die": .die
        case "reset": .reset
        default: Int(name).flatMap { $0 > 0 ? .jump($0) : nil }
        }
    }
}
