import ArgumentParser
import Foundation
import TOTPCore

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent copy of the store to a new file while the daemon serves (root).",
        discussion: """
            The copy is made with SQLite's online backup, in one read transaction. Its secrets
            stay sealed and the key is not in it: keep a copy of the key file apart from the
            backups, since the backup needs it to be restored. Example:
              totpctl backup /root/totpd-$(date +%F).sqlite
            """)

    @OptionGroup var store: StoreOptions
    @Argument(help: "The backup file to create (0600); an existing file is refused.")
    var file: String

    func run() async throws {
        let configuration = try store.configuration()
        let summary = try StoreBackup.backup(configuration: configuration, to: file)
        print("Backed up \(summary.activeAccounts) enrolled accounts to \(file).")
        print("The key is not in the backup. It needs key \(summary.keyIdentifier): keep a copy of \(configuration.keyFilePath) apart from it.")
    }
}
