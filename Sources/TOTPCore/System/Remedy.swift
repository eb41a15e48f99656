/// The command that repairs a refused file or setting, kept apart from the message that ends
/// with it, so the daemon's errors read as they always have and `totpctl doctor` can show the
/// command on a line of its own.
package struct Remedy: Sendable, Equatable {
    package let command: String
    /// What joins it to the message: "; fix: " or, after "it must be root's", ": ".
    package let lead: String

    package init(_ command: String, lead: String = "; fix: ") {
        self.command = command
        self.lead = lead
    }
}
