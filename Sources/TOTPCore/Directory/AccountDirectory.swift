#if canImport(Glibc)
import Glibc
#endif

/// The account lookups behind every decision, as a protocol so the authorization matrix can be
/// tested without root and without real accounts; the daemon uses `SystemAccountDirectory`.
/// `caller` is the uid the lookup is done for, so slow lookups are bounded per caller.
package protocol AccountDirectory: Sendable {
    /// nil: the directory says there is no such account. Throws when it cannot answer.
    func account(named name: String, for caller: uid_t) async throws -> UserDirectory.Account?
    func account(uid: uid_t, for caller: uid_t) async throws -> UserDirectory.Account?
    /// False when the group does not exist. Throws when the directory cannot answer.
    func isMember(_ account: UserDirectory.Account, ofGroup group: String, for caller: uid_t) async throws -> Bool
}
