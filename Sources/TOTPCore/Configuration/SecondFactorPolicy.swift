/// Who must give a code. Entries are user names, `%group` for members of a group, or `*`.
package struct SecondFactorPolicy: Sendable, Equatable {
    package var required: [String] = ["*"]
    package var exempt: [String] = []

    package init(required: [String] = ["*"], exempt: [String] = []) {
        self.required = required
        self.exempt = exempt
    }

    /// Whether `user` must give a code; `isMember` answers for a `%group` entry, and its errors
    /// (a directory that cannot answer) are thrown, never read as "not a member".
    package func requiresCode(user: String, isMember: (String) async throws -> Bool) async throws -> Bool {
        func matches(_ entries: [String]) async throws -> Bool {
            for entry in entries {
                if entry == "*" || entry == user { return true }
                if entry.hasPrefix("%"), try await isMember(String(entry.dropFirst())) { return true }
            }
            return false
        }
        guard try await matches(required) else { return false }
        return try await !matches(exempt)
    }
}
