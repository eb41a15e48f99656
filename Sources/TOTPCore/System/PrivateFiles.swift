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
            try writeKey(SymmetricKey(size: .bits256), to: fd, path: path)
        } else if errno != EEXIST {
            throw SetupError(description: "cannot create key file \(path): \(errorText())")
        }
        return try loadKey(path)
    }

    /// The key in `path`, or nil if there is no such file.
    package static func loadKeyIfPresent(_ path: String) throws(SetupError) -> SymmetricKey? {
        var info = stat()
        if lstat(path, &info) != 0 && errno == ENOENT { return nil }
        return try loadKey(path)
    }

    package static func loadKey(_ path: String) throws(SetupError) -> SymmetricKey {
        try check(path, kind: S_IFREG, what: "key file", mode: "600")
        // Non-blocking, so a FIFO put in its place meanwhile cannot hang the open.
        let readFD = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard readFD >= 0 else { throw SetupError(description: "cannot open key file \(path): \(errorText())") }
        defer { close(readFD) }
        // The file opened, which whoever can rename in its directory may have swapped since the check.
        var opened = stat()
        guard fstat(readFD, &opened) == 0 else { throw SetupError(description: "cannot inspect key file \(path): \(errorText())") }
        try check(opened, path, kind: S_IFREG, what: "key file", mode: "600")
        var bytes = [UInt8](repeating: 0, count: 33)
        let count = read(readFD, &bytes, bytes.count)
        defer { bytes.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 0, $0.count) } }
        guard count == 32 else {
            throw SetupError(description: "key file \(path) must hold exactly 32 bytes; it is damaged or not a totpd key")
        }
        return SymmetricKey(data: bytes[0..<32])
    }

    /// A new key in `path`, or the one already there.
    package static func createKeyDurably(_ path: String, writingFirst temporary: String) throws(SetupError) -> SymmetricKey {
        if let existing = try loadKeyIfPresent(path) { return existing }
        try storeKeyDurably(SymmetricKey(size: .bits256), at: path, writingFirst: temporary)
        return try loadKey(path)
    }

    /// `key` in `path`, on disk before this returns: written to `temporary`, synced, renamed,
    /// and the directory synced, so a crash leaves either the old `path` or the whole key.
    package static func storeKeyDurably(_ key: SymmetricKey, at path: String, writingFirst temporary: String) throws(SetupError) {
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SetupError(description: "cannot create key file \(temporary): \(errorText())") }
        try writeKey(key, to: fd, path: temporary)
        try replaceDurably(path, with: temporary)
    }

    /// Renames `source` over `path` and syncs their directory, so the rename survives a crash.
    package static func replaceDurably(_ path: String, with source: String) throws(SetupError) {
        guard rename(source, path) == 0 else {
            throw SetupError(description: "cannot rename \(source) to \(path): \(errorText())")
        }
        let directory = open(try TrustedPath.parent(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if directory >= 0 { close(directory) } }
        guard directory >= 0, fsync(directory) == 0 else {
            throw SetupError(description: "cannot sync the directory of \(path): \(errorText())")
        }
    }

    /// Writes, syncs and closes; on failure the file is removed.
    private static func writeKey(_ key: SymmetricKey, to fd: CInt, path: String) throws(SetupError) {
        fchmod(fd, 0o600)
        let written = key.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == 32, synced else {
            unlink(path)
            throw SetupError(description: "cannot write key file \(path): \(errorText())")
        }
    }

    /// The rule every private file and the state directory follow: this uid's alone, no link.
    package static func check(_ path: String, kind: mode_t, what: String, mode: String) throws(SetupError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw SetupError(description: "cannot inspect \(what) \(path): \(errorText())")
        }
        try check(info, path, kind: kind, what: what, mode: mode)
    }

    private static func check(_ info: stat, _ path: String, kind: mode_t, what: String, mode: String) throws(SetupError) {
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
