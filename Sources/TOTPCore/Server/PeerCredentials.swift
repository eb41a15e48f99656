import CTOTPSystem
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The caller as the kernel saw it at connect time (SO_PEERCRED); the basis of every
/// authorization decision.
package struct PeerCredentials: Sendable, Equatable {
    package var uid: uid_t
    package var gid: gid_t
    package var pid: pid_t

    package init(uid: uid_t, gid: gid_t, pid: pid_t) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }

    package var isRoot: Bool { uid == 0 }

    /// The daemon itself, for what it does on its own (an import, finishing a key rotation).
    package static var thisProcess: PeerCredentials { PeerCredentials(uid: geteuid(), gid: getegid(), pid: getpid()) }

    /// Reads the peer of a connected Unix-domain channel.
    static func of(_ channel: Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let future: EventLoopFuture<totpd_peer_credentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future.map { PeerCredentials(uid: $0.uid, gid: $0.gid, pid: $0.pid) }
    }
}
