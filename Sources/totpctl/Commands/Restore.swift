import ArgumentParser
import Foundation
import TOTPCore

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace the store with a backup; the daemon must be stopped (root).",
        discussion: """
            Checks the backup (integrity, and that the key opens it), copies it into place with
            SQLite's backup, and counts every step up to now as used, so codes used since the
            backup was taken cannot be used again. Recovery codes used since then are valid
            again: regenerate them for those accounts. Example:
              systemctl stop totpd.socket totpd-root.socket totpd.service
              totpctl restore /root/totpd-2026-12-01.sqlite --key /root/totpd-secret.key
              systemctl start totpd.socket totpd-root.socket
            """)

    @OptionGroup var store: StoreOptions
    @Argument(help: "The backup file.")
    var file: String
    @Option(help: "The key file kept with the backup (default: the store's current key).")
    var key: String?

    func run() async throws {
        let configuration = try store.configuration()
        let summary = try StoreBackup.restore(
            from: file, configuration: configuration, keyFile: key, now: Int64(Date().timeIntervalSince1970))
        print("Restored \(summary.activeAccounts) enrolled accounts from \(file) (key \(summary.keyIdentifier)).")
        if let from = summary.codesAcceptedFrom {
            print("Codes are accepted again from \(OutputFormat.timestamp(from) ?? "\(from)"): earlier steps count as used.")
        }
        if let last = summary.lastActivity {
            print("Recovery codes used after \(OutputFormat.timestamp(last) ?? "\(last)") are valid again; regenerate them for those accounts (totpctl log).")
        }
    }
}
