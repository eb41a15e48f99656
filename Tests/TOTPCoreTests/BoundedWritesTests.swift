import Crypto
import Foundation
import GRDB
import Logging
import Testing

@testable import TOTPCore

/// A.3: what a non-root caller can make the daemon write is bounded, and old audit rows go.
@Suite struct BoundedWritesTests {
    let directory: TemporaryDirectory
    let clock = ManualClock(1_700_000_000)
    let alice = PeerCredentials(uid: 1003, gid: 1003, pid: 12)

    init() throws {
        directory = try TemporaryDirectory()
    }

    func handler(retention: AuditRetention = AuditRetention()) throws -> RequestHandler {
        let logger = Logger(label: "bounded-writes-test")
        return RequestHandler(
            store: try Store(path: directory.path + "/totpd.sqlite", keys: StoreKeyring(key: SymmetricKey(size: .bits256)), retention: retention),
            configuration: DaemonConfiguration(socketPath: directory.path + "/socket", stateDirectory: directory.path, issuer: "t"),
            directory: TableDirectory(), clock: clock, logger: logger, logLimiter: LogLimiter(logger: logger))
    }

    func auditRows() throws -> [Row] {
        try DatabaseQueue(path: directory.path + "/totpd.sqlite").read { db in try Row.fetchAll(db, sql: "SELECT * FROM audit") }
    }

    @Test func aFloodOfRefusedRequestsWritesAFewRowsAndOneCount() async throws {
        let handler = try handler()
        let hostile = String(repeating: "x", count: 250)
        for index in 0..<1000 {
            let request: Request = index.isMultiple(of: 2)
                ? .status(user: "bob") : .verify(user: hostile, code: SubmittedCode("123456")!, context: AuditContext(rhost: hostile))
            #expect(await handler.handle(request, caller: alice).result == .denied)
        }
        var rows = try auditRows()
        #expect(rows.count == AuditBudget.rowsPerInterval)
        for row in rows {
            for column in ["user", "rhost"] { #expect(((row[column] as String?)?.utf8.count ?? 0) <= AuditBudget.maxCallerTextBytes) }
        }
        // Once the interval is over, one row counts what was not written.
        clock.advance(by: AuditBudget.interval)
        _ = await handler.handle(.status(user: "alice"), caller: alice)
        rows = try auditRows()
        let summary = try #require(rows.first { $0["event"] == "suppressed" })
        #expect(summary["count"] == 1000 - AuditBudget.rowsPerInterval)
        #expect(summary["caller_uid"] == 1003)
        // Root's refusals and checked codes are never budgeted.
        let root = PeerCredentials(uid: 0, gid: 0, pid: 1)
        for _ in 0..<(AuditBudget.rowsPerInterval + 5) {
            _ = await handler.handle(.loginEnroll(user: "alice", context: AuditContext(service: "unlisted")), caller: root)
        }
        #expect(try auditRows().filter { $0["caller_uid"] == 0 }.count == AuditBudget.rowsPerInterval + 5)
    }

    @Test func retentionDeletesOldRowsAndKeepsAtMostMaxRows() async throws {
        let handler = try handler(retention: AuditRetention(maxAge: 86_400, maxRows: 20))
        let root = PeerCredentials(uid: 0, gid: 0, pid: 1)
        for _ in 0..<50 {
            _ = await handler.handle(.verify(user: "bob", code: SubmittedCode("123456")!, context: AuditContext()), caller: root)
        }
        #expect(try auditRows().count == 50)
        clock.advance(by: MaintenanceClock.interval)
        _ = await handler.handle(.list(afterUser: nil), caller: root)
        #expect(try auditRows().count <= 21)
        // A day and a minute later, every one of those rows is too old.
        clock.advance(by: 86_400 + MaintenanceClock.interval)
        _ = await handler.handle(.verify(user: "bob", code: SubmittedCode("123456")!, context: AuditContext()), caller: root)
        let left = try auditRows()
        #expect(left.count == 1 && left[0]["time"] == clock.unixTime())
    }

    @Test func theShippedConfigurationStatesTheRetentionDefaults() throws {
        let configuration = try ConfigurationFile.load(path: "t", contents: "audit:\n  max_age: 30\n  max_rows: 5000\n")
        #expect(configuration.auditRetention == AuditRetention(maxAge: 30 * 86_400, maxRows: 5000))
        #expect(throws: ConfigurationError.self) { try ConfigurationFile.load(path: "t", contents: "audit:\n  max_rows: 10\n") }
        #expect(throws: ConfigurationError.self) { try ConfigurationFile.load(path: "t", contents: "audit:\n  max_age: \"ten\"\n") }
    }

    @Test func theSpaceReserveIsReleasedOnceAndMadeAgain() throws {
        let reserve = SpaceReserve(path: directory.path + "/space-reserve")
        #expect(reserve.replenish())
        var info = stat()
        #expect(stat(reserve.path, &info) == 0 && Int(info.st_size) == SpaceReserve.size && info.st_mode & 0o077 == 0)
        #expect(reserve.release())
        #expect(!reserve.release())
        #expect(!FileManager.default.fileExists(atPath: reserve.path))
        #expect(reserve.replenish() && reserve.isHeld)
    }
}
