#if canImport(Glibc)
import Glibc
#endif

/// Account lookups through NSS (getpwnam_r/getpwuid_r), so LDAP or SSSD users resolve too.
package enum UserDirectory {
    package static func uid(ofUser name: String) -> uid_t? {
        withPasswd { entry, buffer, result in getpwnam_r(name, &entry, buffer.baseAddress!, buffer.count, &result) }?.uid
    }

    package static func name(ofUID uid: uid_t) -> String? {
        withPasswd { entry, buffer, result in getpwuid_r(uid, &entry, buffer.baseAddress!, buffer.count, &result) }?.name
    }

    private static func withPasswd(
        _ lookup: (inout passwd, UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<passwd>?) -> Int32
    ) -> (uid: uid_t, name: String)? {
        var size = 1024
        while size <= 1 << 20 {
            let found: (uid: uid_t, name: String)?? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: size) {
                buffer in
                var entry = passwd()
                var result: UnsafeMutablePointer<passwd>?
                let status = lookup(&entry, buffer, &result)
                if status == ERANGE { return nil }
                guard status == 0, let result else { return .some(nil) }
                return .some((result.pointee.pw_uid, String(cString: result.pointee.pw_name)))
            }
            if let found { return found }
            size *= 4
        }
        return nil
    }
}
