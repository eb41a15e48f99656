import Crypto
import Foundation
import Synchronization

/// The keys that seal the store's secrets: one key, or two while a rotation runs. Secrets are
/// sealed with the newest key and opened with whichever of the two seals them, so a rotation
/// interrupted at any point (kill -9 included) leaves every secret readable.
///
/// On disk the key is `key_file`; a rotation first makes `key_file.next` durable, re-seals every
/// secret under it, and then renames it over `key_file`. A daemon that finds `.next` at start
/// loads both and finishes the rotation (`Store.rotateKey`).
package final class StoreKeyring: Sendable {
    private struct Keys {
        /// Seals, and is tried first when opening.
        var sealing: SymmetricKey
        /// The key being rotated away from, while a rotation runs.
        var previous: SymmetricKey?
    }

    /// nil for a keyring that is not kept in a file (tests of the store alone).
    package let path: String?
    private let keys: Mutex<Keys>
    /// Whether this process runs a rotation now: one at a time.
    private let rotationRunning = Mutex(false)

    package init(key: SymmetricKey) {
        path = nil
        keys = Mutex(Keys(sealing: key))
    }

    /// Loads `path`, created on first start, and `path.next` if a rotation was interrupted.
    package init(path: String) throws(PrivateFiles.SetupError) {
        self.path = path
        keys = Mutex(try Self.keys(current: PrivateFiles.loadOrCreateKey(path), path: path))
    }

    /// The key file's key, and the new one beside it while a rotation runs.
    private static func keys(current: SymmetricKey, path: String) throws(PrivateFiles.SetupError) -> Keys {
        let next = try PrivateFiles.loadKeyIfPresent(nextPath(besides: path))
        return next.map { Keys(sealing: $0, previous: current) } ?? Keys(sealing: current)
    }

    /// Claims the right to rotate; false while another rotation runs.
    func claimRotation() -> Bool {
        rotationRunning.withLock { running in
            defer { running = true }
            return !running
        }
    }

    func releaseRotation() { rotationRunning.withLock { $0 = false } }

    /// Reads the key files again (a keyring kept in files only): for a process other than the
    /// daemon, whose rotation may have begun or ended since this one loaded them.
    func reload() throws(PrivateFiles.SetupError) {
        guard let path else { return }
        let loaded = try Self.keys(current: PrivateFiles.loadKey(path), path: path)
        keys.withLock { $0 = loaded }
    }

    package var isRotating: Bool { keys.withLock { $0.previous != nil } }

    /// Names a key without revealing it: what backups and rotations print, so an admin can
    /// tell which key file goes with which store.
    package static func identifier(of key: SymmetricKey) -> String {
        let tag = HMAC<SHA256>.authenticationCode(for: Data("totpd key identifier v1".utf8), using: key)
        return tag.prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    /// The identifier of the key new secrets are sealed with.
    package var identifier: String { Self.identifier(of: keys.withLock { $0.sealing }) }

    var sealingKey: SymmetricKey { keys.withLock { $0.sealing } }

    /// The keys to try when opening, the sealing key first.
    var openingKeys: [SymmetricKey] { keys.withLock { [$0.sealing] + ($0.previous.map { [$0] } ?? []) } }

    /// Makes a new key durable as `path.next` (or keeps the one an interrupted rotation left)
    /// and seals with it from now on. The caller runs this inside a write transaction, so every
    /// transaction before it sealed with the old key and every one after seals with the new.
    func beginRotation() throws(PrivateFiles.SetupError) {
        guard let path else { throw PrivateFiles.SetupError(description: "this store's key is not kept in a file") }
        guard !isRotating else { return }
        let next = try PrivateFiles.createKeyDurably(Self.nextPath(besides: path), writingFirst: Self.temporaryPath(besides: path))
        keys.withLock { $0 = Keys(sealing: next, previous: $0.sealing) }
    }

    /// Every secret is sealed with the new key: it replaces the old one in `path`.
    func finishRotation() throws(PrivateFiles.SetupError) {
        guard let path, isRotating else { return }
        try PrivateFiles.replaceDurably(path, with: Self.nextPath(besides: path))
        keys.withLock { $0.previous = nil }
    }

    static func nextPath(besides path: String) -> String { path + ".next" }
    static func temporaryPath(besides path: String) -> String { path + ".next.tmp" }
}
