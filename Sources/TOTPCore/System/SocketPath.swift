import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Makes the socket path ready for bind: a leftover socket from a crashed daemon is removed,
/// but a live daemon or a file that is not a socket stops startup, and so does a directory on
/// the way that another user could change: whoever can rename or replace the sockets there
/// could take root's logins down.
package enum SocketPath {
    package static func prepareForBind(_ path: String) throws(PrivateFiles.SetupError) {
        // The directories above the socket's first: root must not make one where a user chose.
        let parent = try TrustedPath.parent(of: path)
        try TrustedPath.checkDirectories(above: parent, what: "socket directory")
        if mkdir(parent, 0o755) == 0 {
            // Clients of every uid must be able to reach the socket, whatever the umask.
            let descriptor = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if descriptor >= 0 {
                fchmod(descriptor, 0o755)
                close(descriptor)
            }
        }
        try TrustedPath.checkDirectories(above: path, what: "socket directory")
        var directory = stat()
        if lstat(parent, &directory) == 0, directory.st_mode & 0o002 != 0 {
            throw PrivateFiles.SetupError(description: "socket directory \(parent) is writable by everyone: another user could take the socket's name first; use a directory of root's such as /run/totpd")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw PrivateFiles.SetupError(description: "socket path \(path) exists and is not a socket; remove it or choose another path")
        }
        guard !acceptsConnections(path) else {
            throw PrivateFiles.SetupError(description: "another process is already serving \(path); stop it first")
        }
        unlink(path)
    }

    /// The file a path names, so a daemon that bound it removes it on exit only while it is
    /// still its own: a daemon started while this one drained has bound the path anew.
    package struct Identity: Equatable, Sendable {
        let device: UInt64
        let inode: UInt64
    }

    package static func identity(_ path: String) -> Identity? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    package static func remove(_ path: String, ifStill identity: Identity) {
        if self.identity(path) == identity { unlink(path) }
    }

    private static func acceptsConnections(_ path: String) -> Bool {
        guard let address = try? SocketAddress(unixDomainSocketPath: path) else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return address.withSockAddr { connect(fd, $0, socklen_t($1)) } == 0
    }
}
