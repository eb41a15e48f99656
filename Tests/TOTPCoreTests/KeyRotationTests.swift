import Crypto
import Foundation
import GRDB
import Testing

@testable import TOTPCore

/// `totpctl rotate-key` through the production wiring: every sealed value is sealed again under
/// a new key, nothing is lost, verifications go on meanwhile, and a rotation cut short is
/// finished by the next start.
@Suite struct KeyRotationTests {
    /// Every sealed value of the store opened with `key` alone: the users whose secret does not open.
    static func unopenable(databasePath: String, key: SymmetricKey) throws -> [String] {
        let database = try DatabaseQueue(path: databasePath)
        return try database.read { db in
            var failed: [String] = []
            for table in ["enrollment", "pending_enrollment"] {
                for row in try Row.fetchAll(db, sql: "SELECT user, sealed_secret FROM \(table) WHERE sealed_secret IS NOT NULL") {
                    if SecretSealer.open(row[1], context: SecretSealer.context(row[0]), keys: [key]) == nil { failed.append(row[0]) }
                }
            }
            let sealed = try Data.fetchOne(db, sql: "SELECT sealed FROM store_key WHERE name = ?", arguments: [Store.recoveryKeyName])
            if SecretSealer.open(sealed ?? Data(), context: Store.storeKeyContext(Store.recoveryKeyName), keys: [key]) == nil {
                failed.append("store_key")
            }
            return failed
        }
    }

    @Test func everySecretIsResealedUnderTheNewKeyAndKeepsWorking() async throws {
        try await TestDaemon.run { daemon in
            let store = try await daemon.openStore()
            let users = (0..<150).map { "rotated\($0)" }
            let secrets = users.map { _ in SymmetricKey(size: SymmetricKeySize(bitCount: 160)).withUnsafeBytes { Array($0) } }
            try await store.importEnrollments(
                zip(users, secrets).map { OATHUsersFile.Entry(user: $0, secret: $1, parameters: .default, lastStep: nil) },
                now: daemon.clock.unixTime(), source: AuditSource(caller: .thisProcess))
            let user = TestDaemon.currentUser
            let begun = try await daemon.client.send(.enrollBegin(user: user, proof: nil))
            let pendingSecret = try #require(begun.string(.secret))
            let keyFile = daemon.configuration.keyFilePath
            let oldKey = try PrivateFiles.loadKey(keyFile)

            let rotated = try await daemon.client.send(.rotateKey)
            #expect(rotated.result == .ok)
            // 150 secrets, one pending secret, the recovery-code key.
            #expect(rotated.u64(.count) == 152)
            let newKey = try PrivateFiles.loadKey(keyFile)
            #expect(rotated.string(.keyID) == StoreKeyring.identifier(of: newKey))
            #expect(StoreKeyring.identifier(of: newKey) != StoreKeyring.identifier(of: oldKey))
            #expect(access(StoreKeyring.nextPath(besides: keyFile), F_OK) != 0)
            #expect(try Self.unopenable(databasePath: daemon.configuration.databasePath, key: newKey).isEmpty)
            #expect(try Self.unopenable(databasePath: daemon.configuration.databasePath, key: oldKey).count == 152)

            // The daemon itself goes on with the new key: logins, the pending enrollment, recovery codes.
            daemon.clock.advance(by: 30)
            for (user, secret) in zip(users, secrets).prefix(20) {
                let code = SubmittedCode.totp(
                    OneTimePassword.totp(secret: secret, step: OneTimePassword.step(at: daemon.clock.unixTime(), period: 30), parameters: .default))
                #expect(try await daemon.client.send(.verify(user: user, code: code, context: AuditContext())).result == .ok)
            }
            let confirmed = try await daemon.client.send(.enrollConfirm(user: user, code: daemon.code(pendingSecret)))
            #expect(confirmed.result == .ok)
            let recovery = try #require(SubmittedCode(confirmed.recoveryCodes[0]))
            #expect(try await daemon.client.send(.rotateKey).result == .ok)
            #expect(try await daemon.client.send(.verify(user: user, code: recovery, context: AuditContext())).result == .ok)
            let rows = try await store.auditLog(user: nil, since: nil, afterID: 0, limit: 1000).filter { $0.event == "rotate-key" }
            #expect(rows.map(\.result) == ["resealed-152", "resealed-152"])
        }
    }

    @Test func verificationsGoOnDuringARotation() async throws {
        try await TestDaemon.run { daemon in
            let store = try await daemon.openStore()
            let users = (0..<3000).map { "load\($0)" }
            let secret = [UInt8](repeating: 7, count: 20)
            try await store.importEnrollments(
                users.map { OATHUsersFile.Entry(user: $0, secret: secret, parameters: .default, lastStep: nil) },
                now: daemon.clock.unixTime(), source: AuditSource(caller: .thisProcess))
            let code = SubmittedCode.totp(
                OneTimePassword.totp(secret: secret, step: OneTimePassword.step(at: daemon.clock.unixTime(), period: 30), parameters: .default))
            // Eight clients, each logging in one account after another while the rotation runs.
            let results = try await withThrowingTaskGroup(of: [TOTPCore.ResultCode].self) { tasks in
                tasks.addTask { [try await daemon.client.send(.rotateKey).result] }
                for client in 0..<8 {
                    tasks.addTask {
                        var results: [TOTPCore.ResultCode] = []
                        for user in users[(client * 75)..<(client * 75 + 75)] {
                            results.append(try await daemon.client.send(.verify(user: user, code: code, context: AuditContext())).result)
                        }
                        return results
                    }
                }
                return try await tasks.reduce(into: [TOTPCore.ResultCode]()) { $0 += $1 }
            }
            #expect(results.count == 601 && results.allSatisfy { $0 == .ok })
            let newKey = try PrivateFiles.loadKey(daemon.configuration.keyFilePath)
            #expect(try Self.unopenable(databasePath: daemon.configuration.databasePath, key: newKey).isEmpty)
        }
    }

    /// `totpd --import-oath` is another process with its own keyring, and may run while the
    /// daemon rotates: whenever its transaction falls, what it sealed opens with the final key.
    @Test func anImportBesideARotationSealsWithTheKeyThatStays() async throws {
        try await TestDaemon.run { daemon in
            let secret = [UInt8](repeating: 5, count: 20)
            let entries = { (prefix: String, count: Int) in
                (0..<count).map { OATHUsersFile.Entry(user: "\(prefix)\($0)", secret: secret, parameters: .default, lastStep: nil) }
            }
            try await daemon.openStore().importEnrollments(
                entries("before", 3000), now: daemon.clock.unixTime(), source: AuditSource(caller: .thisProcess))
            for round in 0..<5 {
                // Opened before the rotation starts, as an import process would be.
                let importer = try await daemon.openStore()
                async let rotated = daemon.client.send(.rotateKey)
                try await Task.sleep(for: .milliseconds(round * 20))
                try await importer.importEnrollments(
                    entries("during\(round)-", 50), now: daemon.clock.unixTime(), source: AuditSource(caller: .thisProcess))
                #expect(try await rotated.result == .ok)
                let key = try PrivateFiles.loadKey(daemon.configuration.keyFilePath)
                #expect(try Self.unopenable(databasePath: daemon.configuration.databasePath, key: key).isEmpty, "round \(round)")
            }
        }
    }

    /// What kill -9 leaves midway: the new key durable as `.next`, some rows sealed with it and
    /// the rest with the old. The next start opens both and finishes the rotation.
    @Test func aRotationCutShortIsFinishedByTheNextStart() async throws {
        let shared = try TemporaryDirectory()
        let configure: (inout DaemonConfiguration) -> Void = { $0.stateDirectory = shared.path + "/state" }
        let secret = [UInt8](repeating: 9, count: 20)
        let users = (0..<40).map { "cut\($0)" }
        try await TestDaemon.run(configure: configure) { daemon in
            try await daemon.openStore().importEnrollments(
                users.map { OATHUsersFile.Entry(user: $0, secret: secret, parameters: .default, lastStep: nil) },
                now: daemon.clock.unixTime(), source: AuditSource(caller: .thisProcess))
        }
        var configuration = DaemonConfiguration(stateDirectory: shared.path + "/state")
        configuration.keyFile = nil
        let keyFile = configuration.keyFilePath
        let nextKey = SymmetricKey(size: .bits256)
        try PrivateFiles.storeKeyDurably(nextKey, at: StoreKeyring.nextPath(besides: keyFile), writingFirst: keyFile + ".tmp")
        let database = try DatabaseQueue(path: configuration.databasePath)
        try await database.write { db in
            for user in users.prefix(15) {
                let sealed = try SecretSealer.seal(secret, context: SecretSealer.context(user), key: nextKey)
                try db.execute(sql: "UPDATE enrollment SET sealed_secret = ? WHERE user = ?", arguments: [sealed, user])
            }
        }
        try database.close()

        try await TestDaemon.run(startTime: 1_700_000_100, configure: configure) { daemon in
            let key = try PrivateFiles.loadKey(keyFile)
            #expect(key == nextKey)
            #expect(access(StoreKeyring.nextPath(besides: keyFile), F_OK) != 0)
            #expect(try Self.unopenable(databasePath: configuration.databasePath, key: nextKey).isEmpty)
            for user in [users[0], users[20], users[39]] {
                let code = SubmittedCode.totp(
                    OneTimePassword.totp(secret: secret, step: OneTimePassword.step(at: daemon.clock.unixTime(), period: 30), parameters: .default))
                #expect(try await daemon.client.send(.verify(user: user, code: code, context: AuditContext())).result == .ok)
            }
        }
    }

    @Test func aStoreDoesNotStartWithAnotherStoresKey() async throws {
        let shared = try TemporaryDirectory()
        let configure: (inout DaemonConfiguration) -> Void = { $0.stateDirectory = shared.path + "/state" }
        try await TestDaemon.run(configure: configure) { daemon in _ = try await daemon.enroll(TestDaemon.currentUser) }
        let keyFile = shared.path + "/state/secret.key"
        try PrivateFiles.storeKeyDurably(SymmetricKey(size: .bits256), at: keyFile, writingFirst: keyFile + ".tmp")
        let error = await #expect(throws: Store.KeyMismatch.self) {
            try await TestDaemon.run(configure: configure) { _ in }
        }
        #expect(error?.description.contains("does not open this store") == true)
    }
}
