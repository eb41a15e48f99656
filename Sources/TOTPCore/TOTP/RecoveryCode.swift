import Crypto
import Foundation

/// Recovery codes: 10 lowercase base32 characters (50 bits), shown as `abcde-fghij`, accepted in
/// any case with or without the hyphen. Stored as a keyed digest; 50 random bits make a slow hash
/// unnecessary.
package enum RecoveryCode {
    package static let count = 10
    static let length = 10

    package static func generate() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var generator = SystemRandomNumberGenerator()
        let characters = (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
        return String(characters[0..<5]) + "-" + String(characters[5...])
    }

    /// The canonical form of something typed at the prompt, or nil if it cannot be a recovery code.
    package static func normalize(_ typed: String) -> String? {
        let compact = typed.lowercased().replacingOccurrences(of: "-", with: "")
        guard compact.count == length, typed.count <= length + 1,
            compact.utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "2")...UInt8(ascii: "7")).contains($0) })
        else { return nil }
        return compact
    }

    /// HMAC-SHA-256 under a key derived from the store key, bound to the account: without the
    /// key, a copy of the database tells nothing about the codes.
    static func digest(_ normalized: String, user: String, key: SymmetricKey) -> Data {
        var mac = HMAC<SHA256>(key: key)
        mac.update(data: Data(user.utf8))
        mac.update(data: [0])
        mac.update(data: Data(normalized.utf8))
        return Data(mac.finalize())
    }
}
