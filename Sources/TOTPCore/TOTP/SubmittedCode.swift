/// What a user typed at the code prompt: a TOTP code, or one of their recovery codes.
package enum SubmittedCode: Sendable, Equatable {
    case totp(String)
    /// Normalized: lowercase, no hyphen.
    case recovery(String)

    package init?(_ typed: String) {
        if OTPParameters.digitRange.contains(typed.utf8.count),
            typed.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        {
            self = .totp(typed)
        } else if let normalized = RecoveryCode.normalize(typed) {
            self = .recovery(normalized)
        } else {
            return nil
        }
    }

    /// As sent on the wire.
    package var text: String {
        switch self {
        case .totp(let digits): digits
        case .recovery(let normalized): normalized
        }
    }

    /// The digits of a TOTP code; nil for a recovery code.
    package var digits: String? {
        guard case .totp(let digits) = self else { return nil }
        return digits
    }
}
