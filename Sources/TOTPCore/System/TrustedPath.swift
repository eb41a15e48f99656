import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Whether only root can change what a path leads to: every directory from the path's up to `/`
/// must be owned by root (or this process's uid) and writable by no one else, but for sticky ones
/// such as /tmp, where others cannot rename or remove what is not theirs. Whoever can rename a
/// directory on the way can replace the socket the daemon binds or the file it reads.
package enum TrustedPath {
    /// `what` names the directories in the error, such as "socket directory". A relative path
    /// is taken from the working directory.
    package static func checkDirectories(above path: String, what: String) throws(PrivateFiles.SetupError) {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        // A trailing slash makes lstat follow a symbolic link, and `..` walks where no check went.
        let parts = absolute.split(separator: "/")
        guard !absolute.hasSuffix("/"), !parts.isEmpty, !parts.contains(where: { $0 == "." || $0 == ".." }) else {
            throw PrivateFiles.SetupError(description: "path \(path) must be written plainly: no trailing slash, no . or .. in it")
        }
        var components = parts.dropLast().map(String.init)
        while true {
            let directory = "/" + components.joined(separator: "/")
            var info = stat()
            guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw PrivateFiles.SetupError(description: "\(what) \(directory) is not a directory (symbolic links are refused)")
            }
            let sticky = info.st_mode & S_ISVTX != 0
            guard info.st_uid == 0 || info.st_uid == geteuid() else {
                throw PrivateFiles.SetupError(description: "\(what) \(directory) is owned by uid \(info.st_uid); it must be root's: chown root \(directory)")
            }
            guard info.st_mode & 0o022 == 0 || sticky else {
                let mode = String(info.st_mode & 0o7777, radix: 8)
                throw PrivateFiles.SetupError(description: "\(what) \(directory) is writable by group or others (mode \(mode)); fix: chmod go-w \(directory)")
            }
            guard !components.isEmpty else { return }
            components.removeLast()
        }
    }
}
