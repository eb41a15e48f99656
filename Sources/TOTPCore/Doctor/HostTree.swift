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

    /// A file's text, or nil when it cannot be read.
    package func contents(of hostPath: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path(hostPath)) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
