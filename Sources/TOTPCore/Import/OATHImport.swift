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

    /// Returns how many accounts were enrolled.
    package static func run(path: String, configuration: DaemonConfiguration, logger: Logger) async throws -> Int {
        try PrivateFiles.checkFileIfPresent(path, what: "pam_oath users file")
        guard let handle = FileHandle(forReadingAtPath: path), var data = try handle.readToEnd() else {
            throw Refusal(description: "cannot read \(path)")
        }
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
        let caller = PeerCredentials(uid: geteuid(), gid: getegid(), pid: getpid())
        try await store.importEnrollments(file.entries, now: SystemWallClock().unixTime(), source: AuditSource(caller: caller))
        return file.entries.count
    }
}
