#if canImport(Glibc)
import Glibc
#endif

/// One daemon per store: an exclusive lock on a file in the state directory, held for the
/// daemon's life and dropped by the kernel however the process ends (kill -9 included). A
/// second daemon on the same store refuses to start rather than share it, so housekeeping,
/// checkpoints and the space reserve have one owner.
package final class InstanceLock: Sendable {
    private let descriptor: CInt

    private init(descriptor: CInt) {
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Takes the lock, or explains which daemon holds it.
    package static func acquire(stateDirectory: String) throws(PrivateFiles.SetupError) -> InstanceLock {
        let path = stateDirectory + "/totpd.lock"
        try PrivateFiles.preparePrivateFile(path, what: "lock file")
        let descriptor = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw PrivateFiles.SetupError(description: "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let holder = busy ? holderPID(descriptor) : nil
            close(descriptor)
            guard busy else {
                throw PrivateFiles.SetupError(description: "cannot lock \(path): \(String(cString: strerror(errno)))")
            }
            throw PrivateFiles.SetupError(
                description: "another totpd\(holder.map { " (pid \($0))" } ?? "") is serving the store in \(stateDirectory); "
                    + "stop it first (systemctl stop totpd.service) or give this one its own --state-dir")
        }
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(descriptor, 0) != 0 || pwrite(descriptor, pid, pid.count, 0) != pid.count {
            close(descriptor)
            throw PrivateFiles.SetupError(description: "cannot write lock file \(path): \(String(cString: strerror(errno)))")
        }
        return InstanceLock(descriptor: descriptor)
    }

    /// The pid the holder wrote, if it reads as one.
    private static func holderPID(_ descriptor: CInt) -> pid_t? {
        var bytes = [UInt8](repeating: 0, count: 16)
        let count = pread(descriptor, &bytes, bytes.count, 0)
        guard count > 0 else { return nil }
        return String(decoding: bytes[0..<count], as: UTF8.self).split(separator: "\n").first.flatMap { pid_t($0) }
    }
}
