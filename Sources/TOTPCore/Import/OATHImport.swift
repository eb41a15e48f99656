import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `totpd --import-oath FILE`: moves pam_oath's accounts into the store in one transaction, for
/// a migration or a bulk provisioning. Every name must be an account's canonical name, since
/// that is the key logins look up; the file must be private, since whoever can write it could
/// plant a secret for root.
package enum OATHImport {
    package struct Refusal: Error, CustomStringConvertible {
        package let description: String
    }

    /// The file's bytes, read through one descriptor that was checked after it was opened (no
    /// symbolic link, a regular file of the caller's, accessible by no one else), so the file
    /// cannot be swapped between the check and the read by whoever can write its directory.
    static func readPrivately(_ path: String) throws(Refusal) -> Data {
        do {
            try TrustedPath.checkDirectories(above: path, what: "directory above the users file")
        } catch {
            throw Refusal(description: error.description)
        }
        // Non-blocking, so a FIFO put at the path cannot hang the import; fstat refuses it next.
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw Refusal(description: "cannot open \(path): \(String(cString: strerror(errno))) (symbolic links are refused)")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw Refusal(description: "\(path) is not a regular file")
        }
        guard info.st_uid == geteuid(), info.st_mode & 0o077 == 0 else {
            throw Refusal(
                description: "\(path) must be owned by uid \(geteuid()) and accessible by group or others in no way (it is uid \(info.st_uid), mode \(String(info.st_mode & 0o7777, radix: 8))); fix: chown \(geteuid()) \(path); chmod 600 \(path)")
        }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw Refusal(description: "cannot read \(path): \(error)")
        }
    }

    /// Returns how many accounts were enrolled.
    package static func run(path: String, configuration: DaemonConfiguration, logger: Logger) async throws -> Int {
        var data = try readPrivately(path)
        defer { data.resetBytes(in: 0..<data.count) }
        let file: OATHUsersFile
        do {
            file = try OATHUsersFile(contents: String(decoding: data, as: UTF8.self))
        } catch {
            throw Refusal(description: "\(path): \(error)")
        }
        let known = UserDirectory.enumeratedAccountNames()
        for entry in file.entries where !known.contains(entry.user) {
            guard let account = try UserDirectory.account(named: entry.user) else {
                throw Refusal(description: "\(path): no account named \(QuotedText.quoted(entry.user)); nothing was imported")
            }
            guard account.name == entry.user else {
                throw Refusal(
                    description: "\(path): \(QuotedText.quoted(entry.user)) is spelled \(QuotedText.quoted(account.name)) by the account database; use that spelling")
            }
        }
        let (store, _) = try await Daemon.openStore(configuration: configuration, logger: logger)
        try await store.importEnrollments(
            file.entries, now: SystemWallClock().unixTime(), source: AuditSource(caller: .thisProcess))
        return file.entries.count
    }
}
