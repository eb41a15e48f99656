#if canImport(Glibc)
import Glibc
#endif

/// Whether only root can change what a path leads to: every directory from the path's up to `/`
/// must be owned by root (or this process's uid) and writable by no one else, but for sticky ones
/// such as /tmp, where others cannot rename or remove what is not theirs. Whoever can rename a
/// directory on the way can replace the socket the daemon binds or the file it reads.
///
/// Paths are taken apart as the kernel does, at every `/` byte: Swift's `Character`s would join
/// a `/` to a combining mark beside it and hide a component from the check.
package enum TrustedPath {
    /// `what` names the directories in the error, such as "socket directory". A relative path
    /// is taken from the working directory.
    package static func checkDirectories(above path: String, what: String) throws(PrivateFiles.SetupError) {
        var components = try plainComponents(of: path).dropLast()
        while true {
            let directory = "/" + components.joined(separator: "/")
            var info = stat()
            guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw PrivateFiles.SetupError(description: "\(what) \(directory) is not a directory (symbolic links are refused)")
            }
            let sticky = info.st_mode & S_ISVTX != 0
            guard info.st_uid == 0 || info.st_uid == geteuid() else {
                throw PrivateFiles.SetupError(
                    problem: "\(what) \(directory) is owned by uid \(info.st_uid); it must be root's",
                    remedy: Remedy("chown root \(directory)", lead: ": "))
            }
            guard info.st_mode & 0o022 == 0 || sticky else {
                let mode = String(info.st_mode & 0o7777, radix: 8)
                throw PrivateFiles.SetupError(
                    problem: "\(what) \(directory) is writable by group or others (mode \(mode))", remedy: Remedy("chmod go-w \(directory)"))
            }
            guard !components.isEmpty else { return }
            components.removeLast()
        }
    }

    /// The directory `path` is in, as an absolute path ("/" for a file at the top).
    package static func parent(of path: String) throws(PrivateFiles.SetupError) -> String {
        "/" + (try plainComponents(of: path).dropLast().joined(separator: "/"))
    }

    /// The components from `/`. A trailing slash makes lstat follow a symbolic link, and `..`
    /// walks where no check went, so neither is taken.
    private static func plainComponents(of path: String) throws(PrivateFiles.SetupError) -> [String] {
        var bytes = Array(path.utf8)
        if bytes.first != UInt8(ascii: "/") {
            guard let directory = workingDirectory() else {
                throw PrivateFiles.SetupError(description: "path \(path) is relative and the working directory cannot be read; give it from /")
            }
            bytes = Array(directory.utf8) + [UInt8(ascii: "/")] + bytes
        }
        let parts = bytes.split(separator: UInt8(ascii: "/"))
        let dot = [UInt8(ascii: ".")]
        guard bytes.last != UInt8(ascii: "/"), !parts.isEmpty, !parts.contains(where: { $0.elementsEqual(dot) || $0.elementsEqual(dot + dot) })
        else {
            throw PrivateFiles.SetupError(description: "path \(path) must be written plainly: no trailing slash, no . or .. in it")
        }
        return parts.map { String(decoding: $0, as: UTF8.self) }
    }

    private static func workingDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return nil }
        return String(cString: buffer)
    }
}
