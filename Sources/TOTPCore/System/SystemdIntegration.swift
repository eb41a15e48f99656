#if canImport(Glibc)
import Glibc
#endif

/// The few parts of systemd's protocols the daemon uses: socket activation (LISTEN_PID,
/// LISTEN_FDS, LISTEN_FDNAMES) and readiness notification (NOTIFY_SOCKET), per sd_listen_fds(3) and sd_notify(3).
package enum SystemdIntegration {
    /// The listening sockets systemd passed to this process, by their `FileDescriptorName=`:
    /// `public` (totpd.socket) and, when totpd-root.socket is installed, `root`. A single
    /// unnamed socket is the public one. The variables are removed so that no child inherits them.
    package static func inheritedListeners() throws(PrivateFiles.SetupError) -> [String: CInt] {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pid = environment("LISTEN_PID").flatMap({ pid_t($0) }), pid == getpid(),
            let count = environment("LISTEN_FDS").flatMap({ Int($0) }), count > 0
        else { return [:] }
        let names = environment("LISTEN_FDNAMES")?.split(separator: ":", omittingEmptySubsequences: false).map(String.init) ?? []
        guard count <= 2 else {
            throw PrivateFiles.SetupError(description: "systemd passed \(count) sockets; totpd takes totpd.socket and totpd-root.socket only")
        }
        var listeners: [String: CInt] = [:]
        for index in 0..<count {
            let fd = CInt(3 + index)
            let name = count == 1 && (names.first ?? "unknown") == "unknown" ? "public" : names.count == count ? names[index] : ""
            guard name == "public" || name == "root", listeners[name] == nil else {
                throw PrivateFiles.SetupError(description: "systemd passed a socket named \"\(name)\"; name them with FileDescriptorName=public (totpd.socket) and =root (totpd-root.socket)")
            }
            guard socketOption(fd, SO_DOMAIN) == AF_UNIX, socketOption(fd, SO_TYPE) == Int32(SOCK_STREAM.rawValue),
                socketOption(fd, SO_ACCEPTCONN) == 1
            else {
                throw PrivateFiles.SetupError(description: "the socket systemd passed as \(name) is not a listening Unix stream socket; check its ListenStream=")
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            listeners[name] = fd
        }
        guard listeners["public"] != nil else {
            throw PrivateFiles.SetupError(description: "systemd passed no public socket; totpd.socket must be installed and named FileDescriptorName=public")
        }
        return listeners
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
