import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A file of reserved disk space beside the database. When the disk fills (whoever filled it),
/// the store deletes it so root's verifications can still commit, and makes it again once there
/// is room. While it is released, the audit rows of non-root callers are not written.
final class SpaceReserve: Sendable {
    static let size = 8 << 20

    let path: String
    private let held = Atomic<Bool>(false)

    init(path: String) {
        self.path = path
    }

    var isHeld: Bool { held.load(ordering: .acquiring) }

    /// Creates the reserve if it is missing and the filesystem has room for it twice over.
    /// Returns whether it is held afterwards.
    @discardableResult
    func replenish() -> Bool {
        if isHeld { return true }
        // Left by an earlier run: kept as it is, not written again at every start.
        var existing = stat()
        if lstat(path, &existing) == 0, existing.st_mode & S_IFMT == S_IFREG, existing.st_size == Self.size {
            held.store(true, ordering: .releasing)
            return true
        }
        var info = statvfs()
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        guard statvfs(directory, &info) == 0, UInt64(info.f_bavail) * UInt64(info.f_frsize) >= 2 * UInt64(Self.size) else {
            return false
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // Written, not only allocated: some filesystems (tmpfs among them) do not keep
        // fallocate's blocks from others until they are written.
        var block = [UInt8](repeating: 0, count: 1 << 16)
        var written = 0
        while written < Self.size {
            let count = block.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
            guard count > 0 else {
                unlink(path)
                return false
            }
            written += count
        }
        guard fsync(fd) == 0 else {
            unlink(path)
            return false
        }
        held.store(true, ordering: .releasing)
        return true
    }

    /// Whether the filesystem keeps blocks that only root may use (ext4's reserved blocks).
    /// Without them, a user who can write anywhere on it can take the space the reserve frees
    /// and keep it: the reserve then buys one login, and verifications after it fail closed.
    static func keepsBlocksForRoot(_ directory: String) -> Bool {
        var info = statvfs()
        return statvfs(directory, &info) != 0 || info.f_bfree > info.f_bavail
    }

    /// Deletes the reserve; false when it was not held.
    func release() -> Bool {
        guard held.exchange(false, ordering: .acquiringAndReleasing) else { return false }
        unlink(path)
        return true
    }
}
