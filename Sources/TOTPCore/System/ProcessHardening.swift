import CTOTPSystem

#if canImport(Glibc)
import Glibc
#endif

/// Keeps secrets out of core dumps, crash reports and new files, whatever the service manager set.
package enum ProcessHardening {
    /// The signals Swift's runtime backtracer catches. It answers a crash by printing the
    /// registers and the bytes they point at to standard error, which is the journal, and a
    /// register may point at a secret; the default action ends the process, and with dumps off
    /// leaves nothing behind.
    static let crashSignals = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT, SIGQUIT]

    package static func apply() {
        umask(0o077)
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
        totpd_disable_dumps()
        for crash in crashSignals { signal(crash, SIG_DFL) }
    }
}
