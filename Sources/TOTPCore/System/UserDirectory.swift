#if canImport(Glibc)
import Glibc
#endif

/// Account and group lookups through NSS (the _r variants), so LDAP or SSSD accounts resolve too.
package enum UserDirectory {
    package struct Account: Sendable, Equatable {
        package var name: String
        package var uid: uid_t
        package var gid: gid_t
    }

    package static func account(named name: String) -> Account? {
        withPasswd { entry, buffer, result in getpwnam_r(name, &entry, buffer.baseAddress!, buffer.count, &result) }
    }

    package static func account(uid: uid_t) -> Account? {
        withPasswd { entry, buffer, result in getpwuid_r(uid, &entry, buffer.baseAddress!, buffer.count, &result) }
    }

    package static func uid(ofUser name: String) -> uid_t? { account(named: name)?.uid }

    package static func name(ofUID uid: uid_t) -> String? { account(uid: uid)?.name }

    package static func gid(ofGroup name: String) -> gid_t? {
        withGroup { entry, buffer, result in getgrnam_r(name, &entry, buffer.baseAddress!, buffer.count, &result) }?.gid
    }

    package static func groupName(ofGID gid: gid_t) -> String? {
        withGroup { entry, buffer, result in getgrgid_r(gid, &entry, buffer.baseAddress!, buffer.count, &result) }?.name
    }

    /// The primary and supplementary groups of an account, as the system's group database says now.
    package static func groupIDs(of account: Account) -> Set<gid_t> {
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

    package static func groupNames(of account: Account) -> Set<String> {
        Set(groupIDs(of: account).compactMap(groupName(ofGID:)))
    }

    private static func withPasswd(
        _ lookup: (inout passwd, UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<passwd>?) -> Int32
    ) -> Account? {
        retryingOnERANGE { buffer in
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            let status = lookup(&entry, buffer, &result)
            guard status != ERANGE else { return nil }
            guard status == 0, let result else { return .some(nil) }
            return Account(name: String(cString: result.pointee.pw_name), uid: result.pointee.pw_uid, gid: result.pointee.pw_gid)
        }
    }

    private static func withGroup(
        _ lookup: (inout group, UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<group>?) -> Int32
    ) -> (name: String, gid: gid_t)? {
        retryingOnERANGE { buffer in
            var entry = group()
            var result: UnsafeMutablePointer<group>?
            let status = lookup(&entry, buffer, &result)
            guard status != ERANGE else { return nil }
            guard status == 0, let result else { return .some(nil) }
            return (String(cString: result.pointee.gr_name), result.pointee.gr_gid)
        }
    }

    /// Runs a lookup with a growing buffer; `attempt` returns nil to ask for a larger one.
    private static func retryingOnERANGE<T>(_ attempt: (UnsafeMutableBufferPointer<CChar>) -> T??) -> T? {
        var size = 1024
        while size <= 1 << 20 {
            if let outcome = withUnsafeTemporaryAllocation(of: CChar.self, capacity: size, attempt) { return outcome }
            size *= 4
        }
        return nil
    }
}
