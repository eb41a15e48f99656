/// Who must give a code. Entries are user names, `%group` for members of a group, or `*`.
package struct SecondFactorPolicy: Sendable, Equatable {
    package var required: [String] = ["*"]
    package var exempt: [String] = []

    package init(required: [String] = ["*"], exempt: [String] = []) {
        self.required = required
        self.exempt = exempt
    }

    package func requiresCode(user: String, groups: Set<String>) -> Bool {
        func matches(_ entries: [String]) -> Bool {
            entries.contains { entry in
                entry == "*" || entry == user || (entry.hasPrefix("%") && groups.contains(String(entry.dropFirst())))
            }
        }
        return matches(required) && !matches(exempt)
    }
}
