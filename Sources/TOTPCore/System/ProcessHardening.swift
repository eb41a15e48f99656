import CTOTPSystem

#if canImport(Glibc)
import Glibc
#endif

/// Keeps secrets out of core dumps and new files private, whatever the service manager set.
package enum ProcessHardening {
    package static func apply() {
        umask(0o077)
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
        totpd_disable_dumps()
    }
}
