import Foundation
import Testing

@testable import TOTPCore

/// LIST through the real daemon: one page per request, each as full as a response allows, until
/// an empty page.
@Suite struct ListPagingTests {
    @Test(.enabled(if: getuid() == 0, "LIST is for root and admins"))
    func everyAccountOnceInByteOrderAcrossPages() async throws {
        try await TestDaemon.run { daemon in
            let store = try await daemon.openStore()
            let source = AuditSource(caller: PeerCredentials(uid: 0, gid: 0, pid: 1))
            let now = daemon.clock.unixTime()
            // Names of many lengths (up to USER's 256 bytes) and scripts, so records differ in
            // size and pages in how many they hold.
            let imported = (0..<1000).map { index in
                switch index % 10 {
                case 0: "long-\(index)-" + String(repeating: "x", count: index % 240)
                case 1: "ünïcødé-\(index)"
                case 2: "Upper-\(index)"
                default: "user-\(index)"
                }
            } + [String(repeating: "z", count: 256)]
            try await store.importEnrollments(
                imported.map { OATHUsersFile.Entry(user: $0, secret: Array(repeating: 7, count: 20), parameters: .default) },
                now: now, source: source)
            // An active account with a new enrollment pending is listed once.
            guard case .started = try await store.beginEnrollment(
                user: "user-5", parameters: .default, lifetime: 600, authority: .admin, now: now, source: source),
                case .started = try await store.beginEnrollment(
                    user: "pending-live", parameters: .default, lifetime: 600, authority: .admin, now: now, source: source)
            else { throw CancellationError() }
            #expect(try await store.remove(.revoke, user: "revoked-one", now: now, source: source))
            // Lapsed, so not listed (started last: starting an enrollment purges lapsed ones).
            guard case .started = try await store.beginEnrollment(
                user: "pending-lapsed", parameters: .default, lifetime: 600, authority: .admin, now: now - 1000, source: source)
            else { throw CancellationError() }

            var pages: [[WireField]] = []
            var afterUser: String?
            while true {
                let response = try await daemon.client.send(.list(afterUser: afterUser))
                #expect(response.result == .ok)
                guard let last = response.fields.last?.recordFields.flatMap(EnrollmentStatus.init(fields:)) else { break }
                pages.append(response.fields)
                afterUser = last.user
            }
            #expect(pages.count >= 4)
            for (page, next) in zip(pages, pages.dropFirst()) {
                // Full: the next page's first record would not have fitted.
                let size = 2 + page.reduce(0) { $0 + 3 + $1.value.count }
                #expect(size <= WireProtocol.maxResponseBody && size + 3 + next[0].value.count > WireProtocol.maxResponseBody)
            }
            let listed = try pages.joined().map { try #require($0.recordFields.flatMap(EnrollmentStatus.init(fields:))) }
            let names = listed.map { Array($0.user.utf8) }
            #expect(zip(names, names.dropFirst()).allSatisfy { $0.lexicographicallyPrecedes($1) }, "ascending, no duplicates")
            let expected = (imported + ["pending-live", "revoked-one"]).map { Array($0.utf8) }
            #expect(Set(names) == Set(expected) && names.count == expected.count)
            for status in listed { #expect(status == (try store.status(user: status.user, now: now))) }
            #expect(listed.first { $0.user == "user-5" }.map { $0.state == .active && $0.expiresAt != nil } == true)
            #expect(listed.first { $0.user == "pending-live" }?.state == .pending)
            #expect(listed.first { $0.user == "revoked-one" }?.state == .revoked)

            // A cursor need not be a name; after the last name the page is empty.
            let from = try await daemon.client.send(.list(afterUser: "user-5a"))
            let next = names.first { "user-5a".utf8.lexicographicallyPrecedes($0) }
            #expect(from.fields.first?.recordFields.flatMap(EnrollmentStatus.init(fields:)).map { Array($0.user.utf8) } == next)
            let end = try await daemon.client.send(.list(afterUser: try #require(listed.last).user))
            #expect(end.result == .ok && end.fields.isEmpty)
        }
    }

    /// A cursor that is too long, not UTF-8, empty or repeated is refused, and nothing is listed.
    @Test func badCursorsAreRefused() async throws {
        try await TestDaemon.run { daemon in
            let tag = FieldTag.afterUser.rawValue
            let cases: [([WireField], String)] = [
                ([WireField(tag: tag, value: Array(repeating: 97, count: 257))], "after_user is longer than 256 bytes"),
                ([WireField(tag: tag, value: [0xFF, 0xFE])], "after_user must be non-empty UTF-8"),
                ([WireField(tag: tag, value: [])], "after_user must be non-empty UTF-8"),
                ([.string(.afterUser, "a"), .string(.afterUser, "b")], "after_user appears more than once"),
                ([.string(.user, "a")], "field 1 is not accepted by list"),
            ]
            for (fields, text) in cases {
                let response = try Response(decoding: try await daemon.client.exchange(WireMessage(code: Operation.list.rawValue, fields: fields)))
                #expect(response.result == .badRequest && response.fields.count == 1, "\(fields)")
                #expect(response.explanation?.contains(text) == true, "\(response.explanation ?? "no explanation")")
            }
            let status = WireMessage(code: Operation.status.rawValue, fields: [.string(.user, "a"), .string(.afterUser, "a")])
            #expect(try Response(decoding: try await daemon.client.exchange(status)).explanation?.contains("not accepted by status") == true)
        }
    }
}
