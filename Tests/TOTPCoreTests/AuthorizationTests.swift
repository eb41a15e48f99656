import Crypto
import Foundation
import Logging
import Testing

@testable import TOTPCore

/// Accounts for the matrix, as a directory would answer: root, two admins, two ordinary users.
struct TableDirectory: AccountDirectory {
    static let admins = "totp-admins"
    var accounts: [UserDirectory.Account] = [
        .init(name: "root", uid: 0, gid: 0), .init(name: "ada", uid: 1001, gid: 1001), .init(name: "alan", uid: 1002, gid: 1002),
        .init(name: "alice", uid: 1003, gid: 1003), .init(name: "bob", uid: 1004, gid: 1004),
    ]
    var adminNames: Set<String> = ["ada", "alan"]
    /// When set, every lookup fails as an unreachable directory would.
    var failing = false
    /// When set, names match exactly, as the files backend does.
    var caseSensitive = false

    struct Outage: Error {}

    func account(named name: String, for caller: uid_t) async throws -> UserDirectory.Account? {
        if failing { throw UserDirectory.LookupError(description: "directory down") }
        // Case-insensitive by default, as SSSD with Active Directory is.
        return accounts.first { caseSensitive ? $0.name == name : $0.name.lowercased() == name.lowercased() }
    }

    func account(uid: uid_t, for caller: uid_t) async throws -> UserDirectory.Account? {
        if failing { throw UserDirectory.LookupError(description: "directory down") }
        return accounts.first { $0.uid == uid }
    }

    func isMember(_ account: UserDirectory.Account, ofGroup group: String, for caller: uid_t) async throws -> Bool {
        if failing { throw UserDirectory.LookupError(description: "directory down") }
        return group == Self.admins && adminNames.contains(account.name)
    }
}

@Suite struct AuthorizationTests {
    let directory: TemporaryDirectory
    let handler: RequestHandler

    init() throws {
        directory = try TemporaryDirectory()
        var configuration = DaemonConfiguration(socketPath: directory.path + "/socket", stateDirectory: directory.path, issuer: "t")
        configuration.adminGroup = TableDirectory.admins
        let logger = Logger(label: "authorization-test")
        handler = RequestHandler(
            store: try Store(path: directory.path + "/totpd.sqlite", keys: StoreKeyring(key: SymmetricKey(size: .bits256))),
            configuration: configuration, directory: TableDirectory(), clock: ManualClock(1_700_000_000), logger: logger,
            logLimiter: LogLimiter(logger: logger))
    }

    static let callers: [Authorization.CallerKind: PeerCredentials] = [
        .root: PeerCredentials(uid: 0, gid: 0, pid: 10), .admin: PeerCredentials(uid: 1001, gid: 1001, pid: 11),
        .user: PeerCredentials(uid: 1003, gid: 1003, pid: 12),
    ]

    /// An account of each kind as seen from each caller.
    static func account(_ target: Authorization.TargetKind, from caller: Authorization.CallerKind) -> String? {
        switch target {
        case .own: caller == .admin ? "ada" : caller == .user ? "alice" : nil
        case .otherUser: "bob"
        case .root: "root"
        case .otherAdmin: "alan"
        case .unknown: "nobody-here"
        case .none: nil
        }
    }

    static func request(_ operation: TOTPCore.Operation, for user: String?) -> Request? {
        let code = SubmittedCode("123456")!
        let context = AuditContext(service: "sshd")
        switch operation {
        case .list: return user == nil ? .list(afterUser: nil) : nil
        case .auditLog: return .auditLog(user: user, since: nil, afterID: 0)
        case .rotateKey: return user == nil ? .rotateKey : nil
        case .metrics: return user == nil ? .metrics : nil
        default: break
        }
        guard let user else { return nil }
        return switch operation {
        case .verify: .verify(user: user, code: code, context: context)
        case .precheck: .precheck(user: user, context: context)
        case .resync: .resync(user: user, code: code, nextCode: code)
        case .regenerateRecoveryCodes: .regenerateRecoveryCodes(user: user, code: code)
        case .status: .status(user: user)
        case .enrollConfirm: .enrollConfirm(user: user, code: code, context: context)
        case .enrollBegin: .enrollBegin(user: user, proof: nil)
        case .revoke: .revoke(user: user)
        case .reset: .reset(user: user)
        case .unlock: .unlock(user: user)
        case .loginEnroll: .loginEnroll(user: user, context: context)
        case .list, .auditLog, .rotateKey, .metrics: nil
        }
    }

    /// Every operation, caller kind and target kind through the real handler and store: refused
    /// exactly where the table says, with its reason, and run everywhere else.
    @Test func everyCellOfTheMatrixIsEnforced() async throws {
        var cells = 0
        for operation in TOTPCore.Operation.allCases {
            for (callerKind, caller) in Self.callers {
                for target in Authorization.TargetKind.allCases {
                    let name = Self.account(target, from: callerKind)
                    guard Authorization.applies(operation.spec.access, caller: callerKind, target: target),
                        target == .none || name != nil,
                        let request = Self.request(operation, for: name)
                    else { continue }
                    let expected = Authorization.decide(operation.spec.access, caller: callerKind, target: target)
                    let response = await handler.handle(request, caller: caller)
                    let refusedHere = response.result == .denied && response.explanation?.hasPrefix("uid \(caller.uid) may not") == true
                    if case .deny(let reason) = expected {
                        #expect(refusedHere && response.explanation?.hasSuffix(reason.explanation) == true,
                                "\(operation) by \(callerKind) on \(target): \(response)")
                    } else {
                        #expect(!refusedHere, "\(operation) by \(callerKind) on \(target): \(response)")
                    }
                    cells += 1
                }
            }
        }
        // 11 operations on an account: 4 targets from root (it has no "own"), 5 from the others;
        // list, metrics and rotate-key: no target, 3 callers; the audit log: every target.
        #expect(cells == 11 * 14 + 3 * 3 + 17)
    }

    @Test func theTableInSecurityMDIsTheEnforcedOne() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/SECURITY.md").path
        let document = try String(contentsOfFile: path, encoding: .utf8)
        #expect(document.contains(Authorization.markdownTable()), "docs/SECURITY.md must contain:\n\(Authorization.markdownTable())")
    }

    /// The rules a review found missing: an admin can neither take over root or another admin
    /// (enroll, confirm, revoke, reset) nor clear or run up their lockouts; an admin's own active
    /// enrollment is replaced only with its proof, like anyone's.
    @Test func adminsCannotTakeOverRootOrOtherAdmins() {
        for target in [Authorization.TargetKind.root, .otherAdmin, .own] {
            #expect(Authorization.decide(.adminOverUsers, caller: .admin, target: target) == .deny(.needsRoot))
        }
        for target in [Authorization.TargetKind.root, .otherAdmin] {
            #expect(Authorization.decide(.enrollment, caller: .admin, target: target) == .deny(.needsRoot))
        }
        #expect(Authorization.decide(.enrollment, caller: .admin, target: .own) == .allowWithProof)
        #expect(Authorization.decide(.adminOverUsers, caller: .admin, target: .otherUser) == .allow)
        #expect(Authorization.decide(.enrollment, caller: .admin, target: .otherUser) == .allow)
    }

    /// Only these rules look at admin-group membership; verifications never need the lookup.
    @Test func membershipMattersOnlyWhereTheTableSaysSo() {
        #expect(Authorization.Rule.allCases.filter(Authorization.distinguishesAdmins) == [.ownUnlessAdmin, .enrollment, .adminOnly, .adminOverUsers])
    }

    @Test func decisionsKeyOnTheCanonicalName() async throws {
        let root = Self.callers[.root]!
        let begun = await handler.handle(.enrollBegin(user: "Alice", proof: nil), caller: root)
        #expect(begun.result == .ok)
        #expect(begun.fields.contains(.string(.user, "alice")))
        // One enrollment, whatever the spelling: "ALICE" sees alice's pending one.
        let status = await handler.handle(.status(user: "ALICE"), caller: root)
        #expect(status.fields.contains(.string(.state, "pending")) && status.fields.contains(.string(.user, "alice")))
        // Alice herself may act on "ALICE": it is her account.
        #expect(await handler.handle(.status(user: "ALICE"), caller: Self.callers[.user]!).result == .ok)
    }

    @Test func aDirectoryOutageFailsClosedAndNeverReadsAsNotEnrolled() async throws {
        let root = Self.callers[.root]!
        var configuration = DaemonConfiguration(socketPath: directory.path + "/socket", stateDirectory: directory.path, issuer: "t")
        configuration.secondFactor.exempt = ["%" + TableDirectory.admins]
        let logger = Logger(label: "outage-test")
        let down = RequestHandler(
            store: handler.store, configuration: configuration, directory: TableDirectory(failing: true),
            clock: ManualClock(1_700_000_000), logger: logger, logLimiter: LogLimiter(logger: logger))
        for request in [Request.precheck(user: "alice", context: AuditContext(service: "sshd")), .status(user: "alice"),
                        .verify(user: "alice", code: SubmittedCode("123456")!, context: AuditContext())] {
            let response = await down.handle(request, caller: root)
            #expect(response.result == .internalError, "\(request): \(response)")
            #expect(!response.fields.contains(.string(.state, "none")))
        }
    }

    /// A spelling the directory does not know of an enrolled account is asked for a code, even
    /// when the policy names only other accounts: it is never EXEMPT (review of issue 11).
    @Test func anUnknownSpellingOfAnEnrolledAccountIsNeverExempt() async throws {
        let root = Self.callers[.root]!
        var configuration = DaemonConfiguration(socketPath: directory.path + "/socket", stateDirectory: directory.path, issuer: "t")
        configuration.secondFactor.required = ["alice", "bob"]
        let logger = Logger(label: "spelling-test")
        var exact = TableDirectory()
        exact.caseSensitive = true
        let strict = RequestHandler(
            store: handler.store, configuration: configuration, directory: exact, clock: ManualClock(1_700_000_000),
            logger: logger, logLimiter: LogLimiter(logger: logger))
        #expect(await strict.handle(.enrollBegin(user: "alice", proof: nil), caller: root).result == .ok)
        for name in ["alice", "Alice", "ALICE"] {
            let answer = await strict.handle(.precheck(user: name, context: AuditContext(service: "sshd")), caller: root)
            #expect(answer.result == .ok, "\(name): \(answer)")
        }
    }
}

