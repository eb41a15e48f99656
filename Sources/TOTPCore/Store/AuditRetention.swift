/// How long audit rows are kept (totpd.conf `audit.max_age`, `audit.max_rows`): the daemon
/// deletes older rows, and the oldest beyond the row limit, about once a minute.
package struct AuditRetention: Sendable, Equatable {
    /// Seconds; 400 days by default, enough for a yearly review.
    package var maxAge: Int64 = 400 * 86_400
    package var maxRows: Int64 = 1_000_000

    package init(maxAge: Int64 = 400 * 86_400, maxRows: Int64 = 1_000_000) {
        self.maxAge = maxAge
        self.maxRows = maxRows
    }
}
