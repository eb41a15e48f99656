#if canImport(Glibc)
import Glibc
#endif

/// One daemon per store: an exclusive lock on the state directory itself, held for the daemon's
/// life and dropped by the kernel however the process ends (kill -9 included). A second daemon
/// on the same store refuses to start rather than share it, so housekeeping, checkpoints and the
/// space reserve have one owner. The directory, unlike a lock file, cannot be deleted and
/// re-created under a running daemon; `totpd.lock` in it only names the holder's pid.
package final class InstanceLock: Sendable {
    private let directory: CInt

    private init(directory: CInt) {
        self.directory = directory
    }

    deinit { close(directory) }

    /// Takes the lock, or explains which daemon holds it.
    package static func acquire(stateDirectory: String) throws(PrivateFiles.SetupError) -> InstanceLock {
        let path = stateDirectory + "/totpd.lock"
        try PrivateFiles.preparePrivateFile(path, what: "lock file")
        let directory = open(stateDirectory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        let pidFile = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        defer { if pidFile >= 0 { close(pidFile) } }
        guard directory >= 0, pidFile >= 0 else {
            let reason = String(cString: strerror(errno))
            if directory >= 0 { close(directory) }
            throw PrivateFiles.SetupError(description: "cannot open \(path) or its directory: \(reason)")
        }
        guard flock(directory, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            close(directory)
            guard busy else {
                throw PrivateFiles.SetupError(description: "cannot lock \(stateDirectory): \(reason)")
            }
            throw PrivateFiles.SetupError(
                description: "another totpd\(holderPID(pidFile).map { " (pid \($0))" } ?? "") is serving the store in \(stateDirectory); "
                    + "stop it first (systemctl stop totpd.service) or give this one its own --state-dir")
        }
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(pidFile, 0) != 0 || pwrite(pidFile, pid, pid.count, 0) != pid.count {
            let reason = String(cString: strerror(errno))
            close(directory)
            throw PrivateFiles.SetupError(description: "cannot write lock file \(path): \(reason)")
        }
        return InstanceLock(directory: directory)
    }

    /// The pid the holder wrote, if it reads as one.
    private static func holderPID(_ descriptor: CInt) -> pid_t? {
        var bytes = [UInt8](repeating: 0, count: 16)
        let count = pread(descriptor, &bytes, bytes.count, 0)
        guard count > 0 else { return nil }
        return String(decoding: bytes[0..<count], as: UTF8.self).split(separator: "\n").first.flatMap { pid_t($0) }
    }
}
