import Crypto
import Foundation
import GRDB

extension Store {
    package struct KeyMismatch: Error, CustomStringConvertible {
        package let description: String
    }

    package struct RotationBusy: Error, CustomStringConvertible {
        package var description: String { "a key rotation is running already" }
    }

    package struct Rotation: Sendable, Equatable {
        /// Secrets and store keys sealed again under the new key.
        package var resealed: Int
        package var previousKey: String
        package var newKey: String
    }

    /// Rows re-sealed per transaction: small, so that verifications queued behind one wait for
    /// 64 AES-GCM operations and one commit, and a rotation costs logins no downtime.
    static let rotationBatch = 64

    static let recoveryKeyName = "recovery"
    static func storeKeyContext(_ name: String) -> [UInt8] { Array("totpd-store-key-v1:\(name)".utf8) }

    /// The key of the recovery-code digests. It is kept sealed in the store, so that rotating
    /// the store key leaves every recovery code valid. A store from before it was kept there
    /// had it derived from the key file's key; that is still its value. Opening it is also the
    /// check, at every start, that the key file is the one this store was sealed with.
    static func recoveryKey(_ pool: DatabasePool, keys: StoreKeyring) throws -> SymmetricKey {
        try pool.write { db in
            let context = storeKeyContext(recoveryKeyName)
            if let sealed = try Data.fetchOne(db, sql: "SELECT sealed FROM store_key WHERE name = ?", arguments: [recoveryKeyName]) {
                guard var plain = SecretSealer.open(sealed, context: context, keys: keys.openingKeys) else {
                    throw mismatch(keys)
                }
                defer { plain.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 0, $0.count) } }
                return SymmetricKey(data: plain)
            }
            let keyFileKey = keys.openingKeys.last!
            if let row = try Row.fetchOne(
                db, sql: "SELECT user, sealed_secret FROM enrollment WHERE sealed_secret IS NOT NULL LIMIT 1"),
                SecretSealer.open(row[1], context: SecretSealer.context(row[0]), keys: [keyFileKey]) == nil
            {
                throw mismatch(keys)
            }
            let derived = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: keyFileKey, info: Data("totpd recovery codes v1".utf8), outputByteCount: 32)
            let sealed = try derived.withUnsafeBytes { try SecretSealer.seal(Array($0), context: context, key: keys.sealingKey) }
            try db.execute(sql: "INSERT INTO store_key (name, sealed) VALUES (?, ?)", arguments: [recoveryKeyName, sealed])
            return derived
        }
    }

    private static func mismatch(_ keys: StoreKeyring) -> KeyMismatch {
        KeyMismatch(
            description: "the key file \(keys.path ?? "given") (key \(keys.identifier)) does not open this store: it is not the key "
                + "the store was sealed with; put back the key file that belongs with this store (totpctl restore --key FILE)")
    }

    /// Seals every secret, pending secret and store key again under a new key while requests
    /// go on, then makes the new key the key file's. A rotation a crash interrupted is finished
    /// by the next start (`Daemon.openStore`): until then both keys are loaded and every
    /// secret opens with one of them.
    package func rotateKey(now: Int64, source: AuditSource) async throws -> Rotation {
        let keyring = sealer.keyring
        guard keyring.claimRotation() else { throw RotationBusy() }
        defer { keyring.releaseRotation() }
        let previousKey = keyring.isRotating ? StoreKeyring.identifier(of: keyring.openingKeys[1]) : keyring.identifier
        // In the writer's order: every transaction before this one sealed with the old key, and
        // every one after seals with the new, so one pass over the rows finds all the old ones.
        try await write(for: source.caller) { _ in try keyring.beginRotation() }
        var resealed = 0
        // Pending secrets first: a confirmation copies its sealed secret into `enrollment`, so a
        // pending one confirmed during the pass is in `enrollment` before that table's pass.
        for table in SealedTable.all {
            var after = ""
            while let (count, last) = try await write(for: source.caller, { [self, after] db in
                try reseal(table, after: after, db)
            }) {
                resealed += count
                after = last
            }
        }
        // Nothing copies an old ciphertext any more; this proves it before the old key goes.
        try await writer.read { [self] db in
            for table in SealedTable.all {
                for row in try Row.fetchAll(db, sql: "SELECT \(table.key), \(table.sealed) FROM \(table.name) WHERE \(table.sealed) IS NOT NULL") {
                    guard SecretSealer.open(row[1], context: table.context(row[0]), keys: [keyring.sealingKey]) != nil else {
                        throw KeyMismatch(description: "after re-sealing, a row of \(table.name) is not sealed with the new key; both keys are kept")
                    }
                }
            }
        }
        try keyring.finishRotation()
        let rotation = Rotation(resealed: resealed, previousKey: previousKey, newKey: keyring.identifier)
        try await write(for: source.caller) { [self] db in
            try audit(db, .rotateKey, user: nil, source: source, now: now, result: .rotated(rotation.resealed))
        }
        // The old key's ciphertexts must not stay in the write-ahead log.
        await checkpointRemovingOldPages(for: source.caller, now: now)
        return rotation
    }

    /// One batch of `table`'s rows after `after`, sealed again where they are not sealed with
    /// the new key: how many were, and the last key of the batch (nil: the table is done).
    private func reseal(_ table: SealedTable, after: String, _ db: Database) throws -> (Int, String)? {
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT \(table.key), \(table.sealed) FROM \(table.name) WHERE \(table.key) > ? AND \(table.sealed) IS NOT NULL ORDER BY \(table.key) LIMIT ?",
            arguments: [after, Self.rotationBatch])
        guard let last: String = rows.last?[0] else { return nil }
        var count = 0
        for row in rows {
            let key: String = row[0]
            guard let resealed = try SecretSealer.resealed(row[1], context: table.context(key), keyring: sealer.keyring, what: "a row of \(table.name)")
            else { continue }
            try db.execute(sql: "UPDATE \(table.name) SET \(table.sealed) = ? WHERE \(table.key) = ?", arguments: [resealed, key])
            count += 1
        }
        return (count, last)
    }

    /// A table with sealed values, and the associated data each is sealed with.
    private struct SealedTable: Sendable {
        let name: String
        let key: String
        let sealed: String
        let context: @Sendable (String) -> [UInt8]

        static let all = [
            SealedTable(name: "pending_enrollment", key: "user", sealed: "sealed_secret", context: SecretSealer.context),
            SealedTable(name: "enrollment", key: "user", sealed: "sealed_secret", context: SecretSealer.context),
            SealedTable(name: "store_key", key: "name", sealed: "sealed", context: Store.storeKeyContext),
        ]
    }
}
