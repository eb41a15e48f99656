#if canImport(Glibc)
import Glibc
#endif

/// NSS, through the lookup pool: a slow or failing directory delays or fails only the requests
/// that wait for it.
package struct SystemAccountDirectory: AccountDirectory {
    let pool: LookupPool

    package init(pool: LookupPool) {
        self.pool = pool
    }

    package func account(named name: String, for caller: uid_t) async throws -> UserDirectory.Account? {
        try await pool.run(for: caller) { try UserDirectory.account(named: name) }
    }

    package func account(uid: uid_t, for caller: uid_t) async throws -> UserDirectory.Account? {
        try await pool.run(for: caller) { try UserDirectory.account(uid: uid) }
    }

    package func isMember(_ account: UserDirectory.Account, ofGroup group: String, for caller: uid_t) async throws -> Bool {
        try await pool.run(for: caller) {
            guard let found = try UserDirectory.group(named: group) else { return false }
            return UserDirectory.isMember(account, of: found)
        }
    }
}
