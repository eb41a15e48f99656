import Crypto
import Foundation
import GRDB
import Testing

@testable import TOTPCore

/// `totpctl backup` and `restore` through the production wiring: a snapshot taken while the
/// daemon serves, restored after the store is wiped, verifies the same secrets, keeps the steps
/// used before it, and does not let codes used after it be used again.
@Suite struct BackupTests {
    let shared: TemporaryDirectory
    let configure: @Sendable (inout DaemonConfiguration) -> Void

    init() throws {
        shared = try TemporaryDirectory()
        let state = shared.path + "/state"
        configure = { $0.stateDirectory = state }
    }

    var stateConfiguration: DaemonConfiguration { DaemonConfiguration(stateDirectory: shared.path + "/state") }

    func wipeStore() {
        for suffix in ["", "-wal", "-shm"] { unlink(stateConfiguration.databasePath + suffix) }
    }

    @Test func aRestoredBackupVerifiesTheSameSecretsAndKeepsUsedSteps() async throws {
        let backup = shared.path + "/backup.sqlite"
        let user = TestDaemon.currentUser
        var secret = ""
        var recoveryCode = ""
        var stoppedAt: Int64 = 0
        var codeAfterBackup: SubmittedCode?
        try await TestDaemon.run(configure: configure) { daemon in
            let begun = try await daemon.client.send(.enrollBegin(user: user, proof: nil))
            secret = try #require(begun.string(.secret))
            let confirmed = try await daemon.client.send(.enrollConfirm(user: user, code: daemon.code(secret)))
            recoveryCode = confirmed.recoveryCodes[0]
            daemon.clock.advance(by: 30)
            let usedBeforeBackup = try daemon.code(secret)
            #expect(try await daemon.client.send(.verify(user: user, code: usedBeforeBackup, context: AuditContext())).result == .ok)

            let summary = try StoreBackup.backup(configuration: daemon.configuration, to: backup)
            #expect(summary.activeAccounts == 1)
            #expect(summary.keyIdentifier == StoreKeyring.identifier(of: try PrivateFiles.loadKey(daemon.configuration.keyFilePath)))

            // After the backup: a login and a recovery code the backup does not know of.
            daemon.clock.advance(by: 30)
            codeAfterBackup = try daemon.code(secret)
            #expect(try await daemon.client.send(.verify(user: user, code: codeAfterBackup!, context: AuditContext())).result == .ok)
            stoppedAt = daemon.clock.unixTime()
        }
        var info = stat()
        #expect(lstat(backup, &info) == 0 && info.st_mode & 0o777 == 0o600)
        // One file, nothing left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: shared.path).sorted() == ["backup.sqlite", "state"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: shared.path + "/state").allSatisfy { !$0.hasPrefix(".totpd-") })
        // The snapshot holds the step used before it, sealed: the secret is not in it.
        let backupFile = try Data(contentsOf: URL(fileURLWithPath: backup))
        let rawSecret = Data(try Base32.decode(secret))
        #expect(backupFile.range(of: Data(secret.utf8)) == nil && backupFile.range(of: rawSecret) == nil)
        let stepInBackup = try await DatabaseQueue(path: backup).read { db in
            try Int64.fetchOne(db, sql: "SELECT last_step FROM enrollment WHERE user = ?", arguments: [user])
        }
        #expect(stepInBackup == Int64(1_700_000_030 / 30))

        wipeStore()
        let restored = try StoreBackup.restore(from: backup, configuration: stateConfiguration, keyFile: nil, now: stoppedAt)
        #expect(restored.activeAccounts == 1)
        // Fenced: steps up to the restore and the window after it count as used.
        #expect(restored.codesAcceptedFrom == (stoppedAt / 30 + 2) * 30)

        try await TestDaemon.run(startTime: stoppedAt, configure: configure) { daemon in
            #expect(try await daemon.client.send(.verify(user: user, code: codeAfterBackup!, context: AuditContext())).result == .rejected)
            daemon.clock.advance(by: restored.codesAcceptedFrom! - stoppedAt - 1)
            #expect(try await daemon.client.send(.verify(user: user, code: daemon.code(secret), context: AuditContext())).result == .rejected)
            daemon.clock.advance(by: 1)
            #expect(try await daemon.client.send(.verify(user: user, code: daemon.code(secret), context: AuditContext())).result == .ok)
            let recovery = try #require(SubmittedCode(recoveryCode))
            #expect(try await daemon.client.send(.verify(user: user, code: recovery, context: AuditContext())).result == .ok)
        }
    }

    @Test func restoreRefusesWhileTheDaemonServes() async throws {
        let backup = shared.path + "/backup.sqlite"
        try await TestDaemon.run(configure: configure) { daemon in
            _ = try await daemon.enroll(TestDaemon.currentUser)
            _ = try StoreBackup.backup(configuration: daemon.configuration, to: backup)
            let error = #expect(throws: PrivateFiles.SetupError.self) {
                try StoreBackup.restore(from: backup, configuration: daemon.configuration, keyFile: nil, now: daemon.clock.unixTime())
            }
            #expect(error?.description.contains("another totpd") == true)
            // A second backup to the same file is refused, and the first is untouched.
            #expect(throws: StoreBackup.Failure.self) { try StoreBackup.backup(configuration: daemon.configuration, to: backup) }
        }
    }

    @Test func theKeyKeptWithTheBackupIsCheckedAndInstalled() async throws {
        let backup = shared.path + "/backup.sqlite"
        let keptKey = shared.path + "/kept.key"
        let user = TestDaemon.currentUser
        var secret = ""
        try await TestDaemon.run(configure: configure) { daemon in
            secret = try await daemon.enroll(user)
            _ = try StoreBackup.backup(configuration: daemon.configuration, to: backup)
            try PrivateFiles.storeKeyDurably(
                try PrivateFiles.loadKey(daemon.configuration.keyFilePath), at: keptKey, writingFirst: keptKey + ".tmp")
        }
        // The machine is lost: store and key both gone; a new key appears.
        wipeStore()
        unlink(stateConfiguration.keyFilePath)
        _ = try PrivateFiles.loadOrCreateKey(stateConfiguration.keyFilePath)
        let before = try Data(contentsOf: URL(fileURLWithPath: stateConfiguration.keyFilePath))
        let error = #expect(throws: StoreBackup.Failure.self) {
            try StoreBackup.restore(from: backup, configuration: stateConfiguration, keyFile: nil, now: 1_700_000_000)
        }
        #expect(error?.description.contains("does not open") == true)
        #expect(access(stateConfiguration.databasePath, F_OK) != 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: stateConfiguration.keyFilePath)) == before)

        _ = try StoreBackup.restore(from: backup, configuration: stateConfiguration, keyFile: keptKey, now: 1_700_000_000)
        try await TestDaemon.run(startTime: 1_700_000_090, configure: configure) { daemon in
            let code = try daemon.code(secret)
            #expect(try await daemon.client.send(.verify(user: user, code: code, context: AuditContext())).result == .ok)
        }
    }

    /// A backup someone changed: a trigger that would undo every used step once restored.
    @Test func aBackupWhoseSchemaIsNotTotpdsIsRefused() async throws {
        let backup = shared.path + "/backup.sqlite"
        try await TestDaemon.run(configure: configure) { daemon in
            _ = try await daemon.enroll(TestDaemon.currentUser)
            _ = try StoreBackup.backup(configuration: daemon.configuration, to: backup)
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: stateConfiguration.databasePath))
        try await DatabaseQueue(path: backup).write { db in
            try db.execute(sql: "CREATE TRIGGER forget AFTER UPDATE ON enrollment BEGIN UPDATE enrollment SET last_step = 0; END")
        }
        let error = #expect(throws: StoreBackup.Failure.self) {
            try StoreBackup.restore(from: backup, configuration: stateConfiguration, keyFile: nil, now: 1_700_000_000)
        }
        #expect(error?.description.contains("is not a totpd store") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: stateConfiguration.databasePath)) == before)
    }

    /// SQLite names its journal after the file it writes: a backup into a directory a user can
    /// rename things in could be sent elsewhere, so it is refused.
    @Test func aBackupGoesOnlyWhereOthersCannotRenameThings() async throws {
        let theirs = shared.path + "/theirs"
        mkdir(theirs, 0o755)
        chown(theirs, 65534, 65534)
        try await TestDaemon.run(configure: configure) { daemon in
            let error = #expect(throws: PrivateFiles.SetupError.self) {
                try StoreBackup.backup(configuration: daemon.configuration, to: theirs + "/backup.sqlite")
            }
            let left = try FileManager.default.contentsOfDirectory(atPath: theirs)
            #expect(error?.description.contains("is owned by uid 65534") == true)
            #expect(left.isEmpty)
        }
    }

    /// A store no daemon sealed anything in (made from the public schema) passes no key check,
    /// and neither does one with a single secret under another key (a snapshot a rotation overtook).
    @Test func aBackupEveryValueOfWhichDoesNotOpenWithTheKeyIsRefused() async throws {
        let crafted = shared.path + "/crafted.sqlite"
        let empty = try DatabaseQueue(path: crafted)
        try StoreSchema.migrator.migrate(empty)
        try await empty.write { db in
            try db.execute(sql: "INSERT INTO enrollment (user, state, algorithm, digits, period) VALUES ('root', 'revoked', 'SHA1', 6, 30)")
        }
        try empty.close()
        let mixed = shared.path + "/mixed.sqlite"
        try await TestDaemon.run(configure: configure) { daemon in
            _ = try await daemon.enroll(TestDaemon.currentUser)
            _ = try StoreBackup.backup(configuration: daemon.configuration, to: mixed)
        }
        let other = try SecretSealer.seal([1, 2, 3], context: SecretSealer.context(TestDaemon.currentUser), key: SymmetricKey(size: .bits256))
        try await DatabaseQueue(path: mixed).write { db in
            try db.execute(sql: "UPDATE enrollment SET sealed_secret = ?", arguments: [other])
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: stateConfiguration.databasePath))
        for file in [crafted, mixed] {
            let error = #expect(throws: StoreBackup.Failure.self) {
                try StoreBackup.restore(from: file, configuration: stateConfiguration, keyFile: nil, now: 1_700_000_000)
            }
            #expect(error?.description.contains("does not open") == true, "\(file)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: stateConfiguration.databasePath)) == before)
    }
}
