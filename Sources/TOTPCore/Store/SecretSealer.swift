import Crypto
import Foundation

/// Encrypts TOTP secrets at rest with AES-GCM. The account name is bound in as associated
/// data, so a sealed secret copied to another user's row fails to open.
package struct SecretSealer: Sendable {
    package struct OpenError: Error, CustomStringConvertible {
        package let description: String
    }

    private let key: SymmetricKey

    package init(key: SymmetricKey) {
        self.key = key
    }

    package func seal(_ secret: [UInt8], user: String) throws -> Data {
        guard let combined = try AES.GCM.seal(secret, using: key, authenticating: Self.context(user)).combined else {
            throw OpenError(description: "AES-GCM produced no combined representation")
        }
        return combined
    }

    package func open(_ sealed: Data, user: String) throws -> [UInt8] {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return Array(try AES.GCM.open(box, using: key, authenticating: Self.context(user)))
        } catch {
            throw OpenError(description: "stored secret of \(user) does not decrypt with this key (wrong key file or tampered row)")
        }
    }

    private static func context(_ user: String) -> [UInt8] { Array("totpd-secret-v1:\(user)".utf8) }
}
