import Crypto
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// Backups of the store and their restore. A backup is one SQLite file made with SQLite's
/// online backup API: a consistent snapshot taken in one read transaction while the daemon
/// serves. Its secrets stay sealed, and the key is never in it: the file alone opens nothing,
/// and the key file alone holds no secret, so the two are kept apart.
package enum StoreBackup {
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    package struct Summary: Sendable, Equatable {
        /// Accounts with an active enrollment in the backup.
        package var activeAccounts: Int
        /// The identifier of the key that opens the backup.
        package var keyIdentifier: String
        /// The newest audit row's time: about when the backup was taken.
        package var lastActivity: Int64?
        /// Restore only: codes are accepted again from this time on.
        package var codesAcceptedFrom: Int64?
    }

    /// Writes a snapshot of the store to `path`, a new file (0600), while the daemon serves.
    package static func backup(configuration: DaemonConfiguration, to path: String) throws -> Summary {
        let keyFile = configuration.keyFilePath
        guard try PrivateFiles.loadKeyIfPresent(StoreKeyring.nextPath(besides: keyFile)) == nil else {
            throw Failure(description: "a key rotation is running (\(StoreKeyring.nextPath(besides: keyFile)) exists); back up when it has finished")
        }
        let key = try PrivateFiles.loadKey(keyFile)
        let source = try openReadOnly(configuration.databasePath, what: "the store")
        let temporary = path + ".partial"
        try createPrivateFile(temporary)
        do {
            let destination = try DatabaseQueue(path: temporary)
            try source.backup(to: destination)
            // One self-contained file: no write-ahead log beside it.
            try destination.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            try destination.close()
            let summary = try check(temporary, opensWith: key)
            guard link(temporary, path) == 0 else {
                throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))")
            }
            unlink(temporary)
            return summary
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Replaces the store with the backup at `path`. The daemon must be stopped: the instance
    /// lock is taken for the whole restore, so a daemon started meanwhile refuses to start.
    /// `keyFile`: the key file that went with the backup, installed as the store's key; nil
    /// keeps the current one, which must then open the backup. Every active enrollment's
    /// steps up to `now` (and the window after it) count as used, so codes used after the
    /// backup was taken cannot be used again once it is restored.
    package static func restore(
        from path: String, configuration: DaemonConfiguration, keyFile: String?, now: Int64
    ) throws -> Summary {
        try PrivateFiles.prepareDirectory(configuration.stateDirectory)
        let lock = try InstanceLock.acquire(stateDirectory: configuration.stateDirectory)
        defer { withExtendedLifetime(lock) {} }
        let key = try PrivateFiles.loadKey(keyFile ?? configuration.keyFilePath)
        var summary = try check(path, opensWith: key)
        let database = configuration.databasePath
        let temporary = database + ".restoring"
        unlink(temporary)
        try createPrivateFile(temporary)
        do {
            let destination = try DatabaseQueue(path: temporary)
            try openReadOnly(path, what: "the backup").backup(to: destination)
            let window = Int64(configuration.window)
            try destination.write { db in
                try db.execute(
                    sql: "UPDATE enrollment SET last_step = MAX(COALESCE(last_step, 0), ? / period + ?) WHERE state = 'active'",
                    arguments: [now, window])
            }
            try destination.close()
            if let keyFile, keyFile != configuration.keyFilePath {
                try PrivateFiles.storeKeyDurably(
                    key, at: configuration.keyFilePath, writingFirst: StoreKeyring.temporaryPath(besides: configuration.keyFilePath))
            }
            // Left by an earlier store: they belong to no key or log of the restored one.
            for leftover in [database + "-wal", database + "-shm", StoreKeyring.nextPath(besides: configuration.keyFilePath)] {
                unlink(leftover)
            }
            try PrivateFiles.replaceDurably(database, with: temporary)
        } catch {
            unlink(temporary)
            throw error
        }
        // The first step past the fence, for codes of the default period.
        let period = Int64(OTPParameters.default.period)
        summary.codesAcceptedFrom = (now / period + Int64(configuration.window) + 1) * period
        return summary
    }

    /// The file is a sound totpd store and `key` opens it: what it holds, for the summary.
    private static func check(_ path: String, opensWith key: SymmetricKey) throws -> Summary {
        let database = try openReadOnly(path, what: "the backup")
        return try database.read { db in
            guard try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok" else {
                throw Failure(description: "\(path) fails SQLite's integrity check; it is damaged")
            }
            guard try db.tableExists("enrollment"), try db.tableExists("grdb_migrations") else {
                throw Failure(description: "\(path) is not a totpd store")
            }
            let keyring = StoreKeyring(key: key)
            if try db.tableExists("store_key"),
                let sealed = try Data.fetchOne(db, sql: "SELECT sealed FROM store_key WHERE name = ?", arguments: [Store.recoveryKeyName])
            {
                guard SecretSealer.open(sealed, context: Store.storeKeyContext(Store.recoveryKeyName), keys: [key]) != nil else {
                    throw mismatch(path, keyring)
                }
            } else if let row = try Row.fetchOne(
                db, sql: "SELECT user, sealed_secret FROM enrollment WHERE sealed_secret IS NOT NULL LIMIT 1"),
                SecretSealer.open(row[1], context: SecretSealer.context(row[0]), keys: [key]) == nil
            {
                throw mismatch(path, keyring)
            }
            return Summary(
                activeAccounts: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM enrollment WHERE state = 'active'") ?? 0,
                keyIdentifier: keyring.identifier,
                lastActivity: try Int64.fetchOne(db, sql: "SELECT MAX(time) FROM audit"))
        }
    }

    private static func mismatch(_ path: String, _ keyring: StoreKeyring) -> Failure {
        Failure(
            description: "the key (\(keyring.identifier)) does not open \(path): give the key file that was kept with this backup (--key FILE)")
    }

    private static func openReadOnly(_ path: String, what: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        do {
            return try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw Failure(description: "cannot open \(what) at \(path): \(error)")
        }
    }

    /// A new empty file only root can read, whatever the umask; an existing one is refused.
    private static func createPrivateFile(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        close(fd)
    }
}
