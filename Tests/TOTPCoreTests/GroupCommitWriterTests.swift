import Foundation
import GRDB
import Testing

@testable import TOTPCore

/// Group commit: concurrent writes share transactions, and one write's failure never costs
/// another its change.
@Suite struct GroupCommitWriterTests {
    struct Refused: Error {}

    @Test func concurrentWritesAllCommitExceptTheOnesThatFail() async throws {
        let directory = try TemporaryDirectory()
        let pool = try DatabasePool(path: directory.path + "/group.sqlite")
        try await pool.write { db in try db.execute(sql: "CREATE TABLE item (id INTEGER PRIMARY KEY)") }
        let writer = GroupCommitWriter(pool: pool)
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for id in 0..<200 {
                group.addTask {
                    do {
                        try await writer.write { db in
                            try db.execute(sql: "INSERT INTO item (id) VALUES (?)", arguments: [id])
                            // Fails after its own insert: that insert must not survive.
                            if id % 10 == 0 { throw Refused() }
                        }
                        return (id, true)
                    } catch {
                        return (id, false)
                    }
                }
            }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.count == 200)
        #expect(outcomes.filter { !$0.value }.keys.sorted() == Array(stride(from: 0, to: 200, by: 10)))
        let stored = try await pool.read { db in try Int.fetchAll(db, sql: "SELECT id FROM item ORDER BY id") }
        #expect(stored == (0..<200).filter { $0 % 10 != 0 })
    }

    @Test func aWriteReturnsItsOwnResult() async throws {
        let directory = try TemporaryDirectory()
        let writer = GroupCommitWriter(pool: try DatabasePool(path: directory.path + "/group.sqlite"))
        let results = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for value in 0..<50 { group.addTask { (value, try await writer.write { _ in value * 2 }) } }
            return try await group.reduce(into: [(Int, Int)]()) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.1 == $0.0 * 2 } && results.count == 50)
    }
}
