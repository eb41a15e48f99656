import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's files, with the rules the daemon applies at start (PrivateFiles, TrustedPath)
/// and the sockets' modes that systemd's units and the daemon give them.
package struct FilesCheck {
    let tree: HostTree
    let configuration: DaemonConfiguration
    /// The public socket as the clients reach it.
    let socketPath: String

    package init(tree: HostTree, configuration: DaemonConfiguration, socketPath: String) {
        self.tree = tree
        self.configuration = configuration
        self.socketPath = socketPath
    }

    package func run() -> [DoctorFinding] {
        var findings: [DoctorFinding] = []
        let stateDirectory = tree.path(configuration.stateDirectory)
        if exists(stateDirectory) {
            findings += check("state directory", stateDirectory, kind: S_IFDIR, mode: "700")
            for name in ["totpd.sqlite", "totpd.sqlite-wal", "totpd.sqlite-shm", "totpd.lock"] where exists(stateDirectory + "/" + name) {
                findings += check("store file", stateDirectory + "/" + name, kind: S_IFREG, mode: "600")
            }
        }
        let key = tree.path(configuration.keyFilePath)
        if exists(key) {
            findings += check("key file", key, kind: S_IFREG, mode: "600")
        } else if exists(stateDirectory + "/totpd.sqlite") {
            findings.append(
                DoctorFinding(
                    id: "files.key-missing", severity: .error, subject: key, location: key,
                    message: "the store exists but its key file \(key) does not: the daemon would make a new key that cannot read the secrets",
                    fix: "restore \(key) from the backup made with the store"))
        }
        let nextKey = StoreKeyring.nextPath(besides: key)
        if exists(nextKey) {
            findings += check("key file", nextKey, kind: S_IFREG, mode: "600")
            findings.append(
                DoctorFinding(
                    id: "files.rotation-unfinished", severity: .warning, subject: nextKey, location: nextKey,
                    message: "a key rotation is running or was cut short: until it ends, secrets are sealed under both keys and both files are needed",
                    fix: "wait for totpctl rotate-key to finish; if none runs, systemctl restart totpd.service (the daemon finishes the rotation at start, or logs why not: journalctl -u totpd)"))
        }
        findings += socketFindings(socketPath, isPublic: true)
        findings += socketFindings(DaemonConfiguration.rootSocketPath(besides: socketPath), isPublic: false)
        return findings
    }

    private func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// The daemon's own rule for the file and every directory above it.
    private func check(_ what: String, _ path: String, kind: mode_t, mode: String) -> [DoctorFinding] {
        do {
            try TrustedPath.checkDirectories(above: path, what: "directory above the \(what)")
            try PrivateFiles.check(path, kind: kind, what: what, mode: mode)
            return []
        } catch {
            return [finding(path, error, otherwise: "replace \(path) with a \(kind == S_IFDIR ? "directory" : "file") of root's, mode \(mode)")]
        }
    }

    /// The public socket is every user's (0666: users enroll through it); root's is root's alone,
    /// or a user could crowd it as they can the public one.
    private func socketFindings(_ path: String, isPublic: Bool) -> [DoctorFinding] {
        var info = stat()
        guard lstat(path, &info) == 0 else { return [] }
        do {
            try TrustedPath.checkDirectories(above: path, what: "socket directory")
        } catch {
            return [finding(path, error, otherwise: "move the socket to a directory of root's such as /run/totpd")]
        }
        let mode = info.st_mode & 0o7777
        let problem: String? =
            if info.st_mode & S_IFMT != S_IFSOCK { "is not a socket" }
            else if info.st_uid != 0 { "is owned by uid \(info.st_uid), not root: clients refuse it" }
            else if isPublic && mode & 0o666 != 0o666 { "has mode \(String(mode, radix: 8)), not 666: users cannot enroll or check their codes" }
            else if !isPublic && mode & 0o077 != 0 { "has mode \(String(mode, radix: 8)): users can reach root's own socket and crowd it" }
            else { nil }
        guard let problem else { return [] }
        return [
            DoctorFinding(
                id: "files.socket", severity: .error, subject: path, location: path, message: "socket \(path) \(problem)",
                fix: "restart the daemon so it makes the socket anew (systemctl restart totpd.socket totpd.service); the units set SocketMode=\(isPublic ? "0666" : "0600")")
        ]
    }

    private func finding(_ path: String, _ error: PrivateFiles.SetupError, otherwise fix: String) -> DoctorFinding {
        DoctorFinding(id: "files.permissions", severity: .error, subject: path, location: path, message: error.problem, fix: error.remedy?.command ?? fix)
    }
}
