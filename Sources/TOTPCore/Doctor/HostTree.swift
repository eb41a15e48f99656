import Foundation

/// The file tree doctor checks: `/`, or an image or chroot given with `--root`. Paths are
/// written as on the host (`/etc/pam.d/sudo`) and read below the root; findings name the path
/// read, so the fix applies to the tree that was checked.
package struct HostTree: Sendable, Equatable {
    package let root: String

    package init(root: String = "/") {
        let trimmed = String(root.reversed().drop { $0 == "/" }.reversed())
        self.root = trimmed.isEmpty ? "/" : trimmed
    }

    /// Checks of the running system (the daemon, `sshd -T`, the clock) apply only to `/`.
    package var isLiveSystem: Bool { root == "/" }

    package func path(_ hostPath: String) -> String {
        isLiveSystem ? hostPath : root + (hostPath.hasPrefix("/") ? hostPath : "/" + hostPath)
    }

    /// A file's text, or nil when it cannot be read. Under --root, a file that symbolic links
    /// lead out of the tree counts as unreadable: the host's file is not the tree's, and it may
    /// be one the report should not show.
    package func contents(of hostPath: String) -> String? {
        var file = path(hostPath)
        if !isLiveSystem {
            guard let resolved = Self.resolved(file), let top = Self.resolved(root),
                resolved == top || resolved.hasPrefix(top == "/" ? "/" : top + "/")
            else { return nil }
            file = resolved
        }
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    private static func resolved(_ path: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }
}
