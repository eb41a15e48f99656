#if canImport(Glibc)
import Glibc
#endif

/// The few parts of systemd's protocols the daemon uses: socket activation (LISTEN_PID,
/// LISTEN_FDS) and readiness notification (NOTIFY_SOCKET), per sd_listen_fds(3) and sd_notify(3).
package enum SystemdIntegration {
    /// File descriptor 3 when systemd passed exactly one listening Unix stream socket to this
    /// process. The variables are removed so that no child inherits them.
    package static func inheritedListener() throws(PrivateFiles.SetupError) -> CInt? {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pid = environment("LISTEN_PID").flatMap({ pid_t($0) }), pid == getpid(),
            let count = environment("LISTEN_FDS").flatMap({ Int($0) }), count > 0
        else { return nil }
        guard count == 1 else {
            throw PrivateFiles.SetupError(description: "systemd passed \(count) sockets; totpd.socket must listen on exactly one")
        }
        let fd: CInt = 3
        guard socketOption(fd, SO_DOMAIN) == AF_UNIX, socketOption(fd, SO_TYPE) == Int32(SOCK_STREAM.rawValue),
            socketOption(fd, SO_ACCEPTCONN) == 1
        else {
            throw PrivateFiles.SetupError(description: "the socket systemd passed is not a listening Unix stream socket; check totpd.socket (ListenStream=)")
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    /// Sends a state line such as "READY=1" to the service manager; does nothing outside systemd.
    package static func notify(_ state: String) {
        guard var path = environment("NOTIFY_SOCKET"), path.hasPrefix("/") || path.hasPrefix("@") else { return }
        let abstract = path.hasPrefix("@")
        if abstract { path.removeFirst() }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let offset = abstract ? 1 : 0  // an abstract name starts with a NUL byte
        guard bytes.count + offset < MemoryLayout.size(ofValue: address.sun_path) else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            for (index, byte) in bytes.enumerated() { sunPath[index + offset] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + offset + (abstract ? 0 : 1))
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                Array(state.utf8).withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), address, length) }
            }
        }
    }

    /// Whether stderr is connected to the journal (systemd sets JOURNAL_STREAM for that).
    package static var stderrIsJournal: Bool { environment("JOURNAL_STREAM") != nil }

    private static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    private static func socketOption(_ fd: CInt, _ option: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, option, &value, &length) == 0 ? value : nil
    }
}
