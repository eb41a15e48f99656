/// Every account with an enrollment, from the daemon's LIST a page at a time (totpctl list,
/// totpctl doctor).
package enum EnrollmentPages {
    /// Asks for one page after another, each after the last account of the one before, until
    /// the daemon answers with an empty page. The next page is asked for as soon as its cursor
    /// is known, so the daemon reads it while the caller handles this one. `call` sends a
    /// request and returns an OK response, throwing for any other.
    package static func forEach(
        call: @escaping @Sendable (Request) async throws -> Response, _ body: ([EnrollmentStatus]) throws -> Void
    ) async throws {
        var afterUser: String?
        var next = Task { try await call(.list(afterUser: nil)) }
        while true {
            let records = try await next.value.fields.filter { $0.tag == FieldTag.record.rawValue }
            guard let final = records.last else { return }
            // Names come in byte order after the cursor; an answer that does not move on would repeat forever.
            guard let last = final.recordFields.flatMap(EnrollmentStatus.init(fields:))?.user,
                afterUser.map({ $0.utf8.lexicographicallyPrecedes(last.utf8) }) ?? true
            else {
                throw DaemonClient.ClientError(
                    description: "the daemon's list did not move past \(afterUser.map(QuotedText.quoted) ?? "the start")")
            }
            next = Task { try await call(.list(afterUser: last)) }
            try body(records.compactMap { $0.recordFields.flatMap(EnrollmentStatus.init(fields:)) })
            afterUser = last
        }
    }
}
