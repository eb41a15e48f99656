import Crypto

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's files must be readable by root alone. Every check names the path and the fix,
/// because the person reading the error is a sysadmin at a console.
package enum PrivateFiles {
    package struct SetupError: Error, CustomStringConvertible {
        package let problem: String
        /// The command that repairs it, where one does: `totpctl doctor` shows it on its own.
        package let remedy: Remedy?

        package init(description: String) {
            problem = description
            remedy = nil
        }

        package init(problem: String, remedy: Remedy) {
            self.problem = problem
            self.remedy = remedy
        }

        package var description: String { problem + (remedy.map { $0.lead + $0.command } ?? "") }
    }

    /// Creates the directory (0700) if it is missing, then checks it. Whoever could rename a
    /// directory above it could swap the whole store for an empty or an older one.
    package static func prepareDirectory(_ path: String) throws(SetupError) {
        try TrustedPath.checkDirectories(above: path, what: "directory above the state directory")
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw SetupError(description: "cannot create state directory \(path): \(errorText()); create it with: install -d -m 0700 \(path)")
        }
        try check(path, kind: S_IFDIR, what: "state directory", mode: "700")
    }

    /// Checks an existing file; a missing one is fine.
    package static func checkFileIfPresent(_ path: String, what: String) throws(SetupError) {
        var info = stat()
        if lstat(path, &info) != 0 && errno == ENOENT { return }
        try check(path, kind: S_IFREG, what: what, mode: "600")
    }

    /// Creates the file 0600 if it is missing, whatever the umask, then checks it. SQLite gives
    /// its -wal and -shm files the database file's mode, so this covers them too.
    package static func preparePrivateFile(_ path: String, what: String) throws(SetupError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd >= 0 {
            fchmod(fd, 0o600)
            close(fd)
        } else if errno != EEXIST {
            throw SetupError(description: "cannot create \(what) \(path): \(errorText())")
        }
        try check(path, kind: S_IFREG, what: what, mode: "600")
    }

    /// Reads the 256-bit store key, creating it from the system's random generator on first start.
    package static func loadOrCreateKey(_ path: String) throws(SetupError) -> SymmetricKey {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd >= 0 {
            let key = SymmetricKey(size: .bits256)
            let written = key.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let synced = fsync(fd) == 0
            close(fd)
            guard written == 32, synced else {
                unlink(path)
                throw SetupError(description: "cannot write key file \(path): \(errorText())")
            }
        } else if errno != EEXIST {
            throw SetupError(description: "cannot create key file \(path): \(errorText())")
        }
        try check(path, kind: S_IFREG, what: "key file", mode: "600")
        let readFD = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard readFD >= 0 else { throw SetupError(description: "cannot open key file \(path): \(errorText())") }
        defer { close(readFD) }
        var bytes = [UInt8](repeating: 0, count: 33)
        let count = read(readFD, &bytes, bytes.count)
        defer { bytes.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 0, $0.count) } }
        guard count == 32 else {
            throw SetupError(description: "key file \(path) must hold exactly 32 bytes; it is damaged or not a totpd key")
        }
        return SymmetricKey(data: bytes[0..<32])
    }

    /// The rule every private file and the state directory follow: this uid's alone, no link.
    package static func check(_ path: String, kind: mode_t, what: String, mode: String) throws(SetupError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw SetupError(description: "cannot inspect \(what) \(path): \(errorText())")
        }
        guard info.st_mode & S_IFMT == kind else {
            throw SetupError(description: "\(what) \(path) is not a \(kind == S_IFDIR ? "directory" : "regular file") (symbolic links are refused); replace it")
        }
        guard info.st_uid == geteuid() else {
            throw SetupError(
                problem: "\(what) \(path) is owned by uid \(info.st_uid), not \(geteuid())", remedy: Remedy("chown \(geteuid()) \(path)"))
        }
        guard info.st_mode & 0o077 == 0 else {
            let current = String(info.st_mode & 0o7777, radix: 8)
            throw SetupError(
                problem: "\(what) \(path) is accessible by group or others (mode \(current))", remedy: Remedy("chmod \(mode) \(path)"))
        }
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}
