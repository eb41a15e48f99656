/// Who asked, and from where: the part of an audit row the caller determines.
package struct AuditSource: Sendable {
    package var caller: PeerCredentials
    package var context: AuditContext

    package init(caller: PeerCredentials, context: AuditContext = AuditContext()) {
        self.caller = caller
        self.context = context
    }
}
