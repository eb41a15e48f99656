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
    /// SQLite makes its journal beside the file it writes, by name, so the snapshot is made in a
    /// private directory beside `path` and linked into place only when complete: no name a user
    /// could have prepared is ever opened. The directories above `path` must be root's, or
    /// sticky, so that no one can swap that private directory either.
    package static func backup(configuration: DaemonConfiguration, to path: String) throws -> Summary {
        let keyFile = configuration.keyFilePath
        guard try PrivateFiles.loadKeyIfPresent(StoreKeyring.nextPath(besides: keyFile)) == nil else {
            throw Failure(description: "a key rotation is running (\(StoreKeyring.nextPath(besides: keyFile)) exists); back up when it has finished")
        }
        try TrustedPath.checkDirectories(above: configuration.databasePath, what: "directory above the store")
        try PrivateFiles.check(configuration.stateDirectory, kind: S_IFDIR, what: "state directory", mode: "700")
        try TrustedPath.checkDirectories(above: path, what: "directory of the backup")
        let key = try PrivateFiles.loadKey(keyFile)
        let source = try openReadOnly(configuration.databasePath, what: "the store")
        return try inPrivateDirectory(besides: path) { work in
            let snapshot = work + "/backup.sqlite"
            close(try createPrivateFile(snapshot))
            let destination = try DatabaseQueue(path: snapshot)
            try source.backup(to: destination)
            // One self-contained file: no write-ahead log beside it.
            try destination.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            try destination.close()
            let summary: Summary
            do {
                summary = try check(snapshot, opensWith: key)
            } catch is Failure {
                throw Failure(description: "the snapshot does not open with \(keyFile) alone (a key rotation ran meanwhile?); back up again")
            }
            // link, unlike rename, refuses an existing name, and follows no symbolic link.
            guard link(snapshot, path) == 0 else {
                throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))")
            }
            return summary
        }
    }

    /// Replaces the store with the backup at `path`. The daemon must be stopped: the instance
    /// lock is taken for the whole restore, so a daemon started meanwhile refuses to start.
    /// `keyFile`: the key file that went with the backup, installed as the store's key; nil
    /// keeps the current one, which must then open the backup. Every active enrollment's
    /// steps up to `now` (and the window after it) count as used, so codes used after the
    /// backup was taken cannot be used again once it is restored.
    ///
    /// The backup is copied into the state directory first and only the copy is read: a file
    /// that someone else can change could otherwise differ between the check and the copy, and
    /// SQLite would make its side files beside it.
    package static func restore(
        from path: String, configuration: DaemonConfiguration, keyFile: String?, now: Int64
    ) throws -> Summary {
        try PrivateFiles.prepareDirectory(configuration.stateDirectory)
        let lock = try InstanceLock.acquire(stateDirectory: configuration.stateDirectory)
        defer { withExtendedLifetime(lock) {} }
        let key = try PrivateFiles.loadKey(keyFile ?? configuration.keyFilePath)
        let database = configuration.databasePath
        return try inPrivateDirectory(besides: database) { work in
            let copy = work + "/backup.sqlite"
            try copyRegularFile(path, to: copy)
            var summary = try check(copy, opensWith: key)
            let restored = work + "/restored.sqlite"
            close(try createPrivateFile(restored))
            let destination = try DatabaseQueue(path: restored)
            try openReadOnly(copy, what: "the backup").backup(to: destination)
            let window = Int64(configuration.window)
            // The last step any code could have been accepted for by now: the window around now,
            // moved by the drift the account's authenticator has.
            try destination.write { db in
                try db.execute(
                    sql: "UPDATE enrollment SET last_step = MAX(COALESCE(last_step, 0), ? / period + MAX(drift, 0) + ?) WHERE state = 'active'",
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
            try PrivateFiles.replaceDurably(database, with: restored)
            // The first step past the fence, for codes of the default period.
            let period = Int64(OTPParameters.default.period)
            summary.codesAcceptedFrom = (now / period + window + 1) * period
            return summary
        }
    }

    /// The file is a sound totpd store and `key` opens it: what it holds, for the summary. Its
    /// schema must be exactly what totpd's migrations made, so that no trigger or view of
    /// someone else's comes along into the store.
    private static func check(_ path: String, opensWith key: SymmetricKey) throws -> Summary {
        let database = try openReadOnly(path, what: "the backup")
        return try database.read { db in
            guard try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok" else {
                throw Failure(description: "\(path) fails SQLite's integrity check; it is damaged")
            }
            guard try db.tableExists("grdb_migrations"), try schema(db) == expectedSchema(db) else {
                throw Failure(description: "\(path) is not a totpd store (its schema is not the one totpd makes)")
            }
            // Every sealed value must open with the key: the recovery-code key (a store with none
            // was never opened by a daemon, or was made by someone else), and each secret, so a
            // snapshot that a rotation overtook, half under each key, is refused too.
            let keyring = StoreKeyring(key: key)
            guard try db.tableExists("store_key"),
                let sealed = try Data.fetchOne(db, sql: "SELECT sealed FROM store_key WHERE name = ?", arguments: [Store.recoveryKeyName]),
                SecretSealer.open(sealed, context: Store.storeKeyContext(Store.recoveryKeyName), keys: [key]) != nil
            else { throw mismatch(path, keyring) }
            for table in ["pending_enrollment", "enrollment"] {
                for row in try Row.fetchAll(db, sql: "SELECT user, sealed_secret FROM \(table) WHERE sealed_secret IS NOT NULL")
                where SecretSealer.open(row[1], context: SecretSealer.context(row[0]), keys: [key]) == nil {
                    throw mismatch(path, keyring)
                }
            }
            return Summary(
                activeAccounts: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM enrollment WHERE state = 'active'") ?? 0,
                keyIdentifier: keyring.identifier,
                lastActivity: try Int64.fetchOne(db, sql: "SELECT MAX(time) FROM audit"))
        }
    }

    private static func schema(_ db: Database) throws -> [Row] {
        try Row.fetchAll(db, sql: "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
    }

    /// The schema a new store has after the migrations `db` records, which must be the first
    /// of totpd's own, in order.
    private static func expectedSchema(_ db: Database) throws -> [Row] {
        let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
        let known = StoreSchema.migrator.migrations
        guard let last = applied.last, applied == Array(known.prefix(applied.count)) else { return [] }
        let fresh = try DatabaseQueue()
        try StoreSchema.migrator.migrate(fresh, upTo: last)
        return try fresh.read(schema)
    }

    private static func mismatch(_ path: String, _ keyring: StoreKeyring) -> Failure {
        Failure(
            description: "the key (\(keyring.identifier)) does not open \(path): give the key file that was kept with this backup (--key FILE)")
    }

    /// Opened read-only, and with `trusted_schema` off: nothing in the file runs a function
    /// with side effects.
    private static func openReadOnly(_ path: String, what: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA trusted_schema = OFF") }
        do {
            return try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw Failure(description: "cannot open \(what) at \(path): \(error)")
        }
    }

    /// Runs `body` with a new directory only root can enter, beside `path`, removed afterwards.
    private static func inPrivateDirectory<T>(besides path: String, _ body: (String) throws -> T) throws -> T {
        var template = Array("\(try TrustedPath.parent(of: path))/.totpd-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw Failure(description: "cannot create a directory beside \(path): \(String(cString: strerror(errno)))")
        }
        let work = String(cString: made)
        defer {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: work)) ?? [] { unlink(work + "/" + name) }
            rmdir(work)
        }
        return try body(work)
    }

    /// A new empty file (0600, whatever the umask), open for writing; SQLite takes an empty file
    /// as a new database and keeps its mode.
    private static func createPrivateFile(_ path: String) throws -> CInt {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0, fchmod(fd, 0o600) == 0 else {
            throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Copies a regular file, opened without following a symbolic link or waiting on a FIFO,
    /// to a new file (0600).
    private static func copyRegularFile(_ source: String, to destination: String) throws {
        let input = open(source, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard input >= 0 else { throw Failure(description: "cannot open \(source): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        var info = stat()
        guard fstat(input, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw Failure(description: "\(source) is not a regular file")
        }
        let output = try createPrivateFile(destination)
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(input, &buffer, buffer.count)
            guard count >= 0 else { throw Failure(description: "cannot read \(source): \(String(cString: strerror(errno)))") }
            if count == 0 { return }
            guard write(output, buffer, count) == count else {
                throw Failure(description: "cannot write \(destination): \(String(cString: strerror(errno)))")
            }
        }
    }
}
