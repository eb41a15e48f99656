#if canImport(Glibc)
import Glibc
#endif

/// Account and group lookups through NSS (the _r variants), so LDAP or SSSD accounts resolve too.
/// These calls block, for as long as the directory takes: the daemon runs them through its
/// `LookupPool`, never on an event loop or the shared concurrency threads.
///
/// A lookup that NSS could not answer throws; only a clean "no such entry" is nil. The two must
/// never be confused: a directory outage must not read as "not enrolled" or "not exempt".
package enum UserDirectory {
    package struct Account: Sendable, Equatable {
        /// The canonical name, as the directory spells it (case-insensitive directories answer
        /// `Alice` with `alice`).
        package var name: String
        package var uid: uid_t
        package var gid: gid_t

        package init(name: String, uid: uid_t, gid: gid_t) {
            self.name = name
            self.uid = uid
            self.gid = gid
        }
    }

    package struct Group: Sendable, Equatable {
        package var name: String
        package var gid: gid_t
        package var members: [String]
    }

    package struct LookupError: Error, CustomStringConvertible {
        package let description: String
    }

    package static func account(named name: String) throws(LookupError) -> Account? {
        try withPasswd("user \(name)") { entry, buffer, result in
            getpwnam_r(name, &entry, buffer.baseAddress!, buffer.count, &result)
        }
    }

    package static func account(uid: uid_t) throws(LookupError) -> Account? {
        try withPasswd("uid \(uid)") { entry, buffer, result in
            getpwuid_r(uid, &entry, buffer.baseAddress!, buffer.count, &result)
        }
    }

    package static func group(named name: String) throws(LookupError) -> Group? {
        try withGroup("group \(name)") { entry, buffer, result in
            getgrnam_r(name, &entry, buffer.baseAddress!, buffer.count, &result)
        }
    }

    /// Whether the account belongs to the group: its primary group, a listed member, or a
    /// supplementary group as `getgrouplist` reports it (which cannot signal errors, so it may
    /// only ever add memberships, never be the sole evidence against one).
    package static func isMember(_ account: Account, of group: Group) -> Bool {
        account.gid == group.gid || group.members.contains(account.name) || groupIDs(of: account).contains(group.gid)
    }

    /// Every account name NSS enumerates, for bulk checks; sources that do not enumerate (SSSD
    /// by default) list nothing, so a name missing here is looked up before it counts as absent.
    package static func enumeratedAccountNames() -> Set<String> {
        var names = Set<String>()
        setpwent()
        defer { endpwent() }
        while let entry = getpwent() { names.insert(String(cString: entry.pointee.pw_name)) }
        return names
    }

    private static func groupIDs(of account: Account) -> Set<gid_t> {
        var count: Int32 = 64
        while count <= 65_536 {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var found = count
            if getgrouplist(account.name, account.gid, &groups, &found) >= 0 {
                return Set(groups.prefix(Int(found)))
            }
            count = max(found, count * 2)
        }
        return [account.gid]
    }

    private static func withPasswd(
        _ what: String,
        _ lookup: (inout passwd, UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<passwd>?) -> Int32
    ) throws(LookupError) -> Account? {
        try retryingOnERANGE(what) { buffer in
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            let status = lookup(&entry, buffer, &result)
            guard status == 0 else { return .failure(status) }
            return .success(
                result.map { Account(name: String(cString: $0.pointee.pw_name), uid: $0.pointee.pw_uid, gid: $0.pointee.pw_gid) })
        }
    }

    private static func withGroup(
        _ what: String,
        _ lookup: (inout Glibc.group, UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<Glibc.group>?) -> Int32
    ) throws(LookupError) -> Group? {
        try retryingOnERANGE(what) { buffer in
            var entry = Glibc.group()
            var result: UnsafeMutablePointer<group>?
            let status = lookup(&entry, buffer, &result)
            guard status == 0 else { return .failure(status) }
            return .success(
                result.map { found in
                    var members: [String] = []
                    var cursor = found.pointee.gr_mem
                    while let member = cursor?.pointee {
                        members.append(String(cString: member))
                        cursor = cursor?.successor()
                    }
                    return Group(name: String(cString: found.pointee.gr_name), gid: found.pointee.gr_gid, members: members)
                })
        }
    }

    private enum Attempt<T> {
        case success(T?)
        case failure(Int32)
    }

    /// Runs a lookup with a growing buffer while it answers ERANGE. Any other error is the
    /// directory's failure, and is thrown.
    private static func retryingOnERANGE<T>(
        _ what: String, _ attempt: (UnsafeMutableBufferPointer<CChar>) -> Attempt<T>
    ) throws(LookupError) -> T? {
        var size = 1024
        while size <= 1 << 20 {
            switch withUnsafeTemporaryAllocation(of: CChar.self, capacity: size, attempt) {
            case .success(let value): return value
            case .failure(ERANGE): size *= 4
            case .failure(let code):
                throw LookupError(description: "the account database could not look up \(what): \(String(cString: strerror(code)))")
            }
        }
        throw LookupError(description: "the entry for \(what) is larger than 4 MiB")
    }
}
