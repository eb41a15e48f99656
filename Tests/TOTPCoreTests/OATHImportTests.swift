import Crypto
import Foundation
import Testing

@testable import TOTPCore

/// `totpd --import-oath`: the users-file parser, and the store's one-transaction import.
@Suite struct OATHImportTests {
    let secretHex = "3132333435363738393031323334353637383930"
    let source = AuditSource(caller: PeerCredentials(uid: 0, gid: 0, pid: 1))

    @Test func readsTOTPLinesWithTheirParametersAndLastUse() throws {
        let file = try OATHUsersFile(
            contents: "# pam_oath users file\r\nHOTP/T30 alice - \(secretHex)\r\n\r\n"
                + "HOTP/T60/8\tbob\t-\t\(secretHex) 0 12345678 2026-12-01T10:00:00L\r\n")
        #expect(file.entries.map(\.user) == ["alice", "bob"])
        #expect(file.entries[0].secret == Array("12345678901234567890".utf8))
        #expect(file.entries[0].parameters == OTPParameters(algorithm: .sha1, digits: 6, period: 30))
        #expect(file.entries[0].lastStep == nil)
        #expect(file.entries[1].parameters == OTPParameters(algorithm: .sha1, digits: 8, period: 60))
        // pam_oath writes local time.
        var local = tm()
        (local.tm_year, local.tm_mon, local.tm_mday, local.tm_hour, local.tm_isdst) = (126, 11, 1, 10, -1)
        #expect(file.entries[1].lastStep == Int64(mktime(&local)) / 60)
    }

    @Test(arguments: [
        ("HOTP alice - 3132333435363738393031323334353637383930", "line 1: type HOTP is not time-based"),
        ("HOTP/T30 alice 1234 3132333435363738393031323334353637383930", "line 1: alice has a PIN"),
        ("HOTP/T30 alice - 31323g", "line 1: the secret (fourth field) is not hex"),
        ("HOTP/T30 alice - 3132", "line 1: the secret (fourth field) is not hex of at least 10 bytes"),
        // Fields out of order: the secret is not repeated in the error.
        ("3132333435363738393031323334353637383930 alice - HOTP/T30", "line 1: the first field is not an OATH type"),
        ("HOTP/T0 alice - 3132333435363738393031323334353637383930", "unsupported period"),
        ("HOTP/T30/9 alice - 3132333435363738393031323334353637383930", "unsupported period or digit count"),
        ("HOTP/T30 alice", "line 1: expected TYPE USER PIN SECRET"),
        ("HOTP/T30 alice - 3132333435363738393031323334353637383930 0 1 yesterday", "is not a time"),
        ("HOTP/T30 a - 3132333435363738393031323334353637383930\nHOTP/T30 a - 3132333435363738393031323334353637383930", "line 2: a appears twice"),
        ("HOTP/T30 \(String(repeating: "x", count: 257)) - 3132333435363738393031323334353637383930", "is not an account name a login can send"),
        ("HOTP/T30 a\u{1B}b - 3132333435363738393031323334353637383930", "is not an account name a login can send"),
    ])
    func refusesWhatTotpdCannotKeep(line: String, problem: String) {
        #expect {
            try OATHUsersFile(contents: line)
        } throws: { error in
            "\(error)".contains(problem)
        }
    }

    @Test func importsInOneTransactionAndTheCodesVerify() async throws {
        let directory = try TemporaryDirectory()
        let store = try Store(path: directory.path + "/totpd.sqlite", keys: StoreKeyring(key: SymmetricKey(size: .bits256)))
        let file = try OATHUsersFile(contents: (0..<500).map { "HOTP/T30 user\($0) - \(secretHex)" }.joined(separator: "\n"))
        let now: Int64 = 1_700_000_000
        try await store.importEnrollments(file.entries, now: now, source: source)
        let code = OneTimePassword.totp(
            secret: Array("12345678901234567890".utf8), step: OneTimePassword.step(at: now, period: 30), parameters: .default)
        #expect(try await store.verify(user: "user499", code: SubmittedCode(code)!, now: now, source: source) == .accepted)
        #expect(try await store.verify(user: "user499", code: SubmittedCode(code)!, now: now, source: source) == .replayed)
        #expect(try store.status(user: "user0", now: now).state == .active)
        let rows = try await store.auditLog(user: nil, since: nil, afterID: 0, limit: 10)
        #expect(rows.map(\.event) == ["import-oath", "verify", "verify"])
        #expect(rows.first?.count == 500)
    }

    @Test func importsNothingWhenAnAccountIsAlreadyEnrolled() async throws {
        let directory = try TemporaryDirectory()
        let store = try Store(path: directory.path + "/totpd.sqlite", keys: StoreKeyring(key: SymmetricKey(size: .bits256)))
        let now: Int64 = 1_700_000_000
        try await store.importEnrollments(try OATHUsersFile(contents: "HOTP/T30 bob - \(secretHex)").entries, now: now, source: source)
        let file = try OATHUsersFile(contents: "HOTP/T30 alice - \(secretHex)\nHOTP/T30 bob - \(secretHex)")
        await #expect(throws: Store.ImportError.self) { try await store.importEnrollments(file.entries, now: now, source: source) }
        #expect(try store.status(user: "alice", now: now).state == .none)
    }
}
