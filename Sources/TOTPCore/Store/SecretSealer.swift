import Crypto
import Foundation

/// Encrypts TOTP secrets at rest with AES-GCM. The account name is bound in as associated
/// data, so a sealed secret copied to another user's row fails to open.
package struct SecretSealer: Sendable {
    package struct OpenError: Error, CustomStringConvertible {
        package let description: String
    }

    let keyring: StoreKeyring

    package init(keyring: StoreKeyring) {
        self.keyring = keyring
    }

    package func seal(_ secret: [UInt8], user: String) throws -> Data {
        try Self.seal(secret, context: Self.context(user), key: keyring.sealingKey)
    }

    package func open(_ sealed: Data, user: String) throws -> [UInt8] {
        guard let secret = Self.open(sealed, context: Self.context(user), keys: keyring.openingKeys) else {
            throw OpenError(description: "stored secret of \(user) does not decrypt with this key (wrong key file or tampered row)")
        }
        return secret
    }

    /// `sealed` sealed again with the sealing key, or nil if it is sealed with it already; a
    /// key rotation's step for one row.
    static func resealed(_ sealed: Data, context: [UInt8], keyring: StoreKeyring, what: String) throws -> Data? {
        let keys = keyring.openingKeys
        if open(sealed, context: context, keys: keys.prefix(1)) != nil { return nil }
        guard var plain = open(sealed, context: context, keys: keys.dropFirst()) else {
            throw OpenError(description: "\(what) does not decrypt with any key of the keyring (wrong key file or tampered row)")
        }
        defer { plain.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 0, $0.count) } }
        return try seal(plain, context: context, key: keys[0])
    }

    static func seal(_ plain: [UInt8], context: [UInt8], key: SymmetricKey) throws -> Data {
        guard let combined = try AES.GCM.seal(plain, using: key, authenticating: context).combined else {
            throw OpenError(description: "AES-GCM produced no combined representation")
        }
        return combined
    }

    static func open(_ sealed: Data, context: [UInt8], keys: some Sequence<SymmetricKey>) -> [UInt8]? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed) else { return nil }
        for key in keys {
            if let plain = try? AES.GCM.open(box, using: key, authenticating: context) { return Array(plain) }
        }
        return nil
    }

    static func context(_ user: String) -> [UInt8] { Array("totpd-secret-v1:\(user)".utf8) }
}
