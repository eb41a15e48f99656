import CTOTPSystem
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The file tree doctor checks: `/`, or an image or chroot given with `--root`. Paths are
/// written as on the host (`/etc/pam.d/sudo`) and read below the root; findings name the path
/// read, so the fix applies to the tree that was checked.
///
/// A tree may be a user's, so it is read as a chroot would see it: the root is opened once, by a
/// path without symbolic links (a link there could be turned to a tree only root may read), and
/// every path below it resolves with links and `..` held inside it (an absolute link in an image
/// names the image's file). What a run may read is bounded, in size per file and in all, so
/// includes that repeat or a huge sparse file end in a finding rather than in a hang.
package struct HostTree: Sendable, Equatable {
    /// Why a file was not read.
    package enum Unreadable: Error, Equatable, CustomStringConvertible {
        case missing
        case notReadable(String)
        case notARegularFile
        case notText
        case nameNotText
        case tooLarge
        case readLimitReached
        case unconfined

        package var description: String {
            switch self {
            case .missing: "does not exist"
            case .notReadable(let reason): "cannot be read (\(reason))"
            case .notARegularFile: "is not a regular file"
            case .notText: "is not UTF-8 text, which doctor cannot read as the system does"
            case .nameNotText: "holds a name that is not UTF-8, which doctor cannot follow"
            case .tooLarge: "is larger than \(HostTree.maxFileSize >> 20) MiB"
            case .readLimitReached: "was not read: doctor reads at most \(HostTree.maxReadInAll >> 20) MiB of a tree in all"
            case .unconfined: "was not read: this kernel cannot hold reads inside the tree (openat2, Linux 5.6)"
            }
        }
    }

    package static let maxFileSize = 4 << 20
    package static let maxReadInAll = 64 << 20
    /// What opening a file costs from the budget however small it is, so that endless opens of
    /// tiny files are bounded too.
    private static let costPerOpen = 4096

    package let root: String
    /// Why the root could not be opened, as the end of a sentence naming it; nothing of the tree
    /// is read then.
    package let rootProblem: String?
    private let directory: Descriptor?
    private let budget = ReadBudget()
    private let trustedOwner: uid_t

    /// `trusting`: an owner besides root whose files count as root's, for a tree a build user
    /// made; doctor itself trusts root alone, whoever runs it.
    package init(root: String = "/", trusting trustedOwner: uid_t = 0) {
        self.trustedOwner = trustedOwner
        let trimmed = String(root.reversed().drop { $0 == "/" }.reversed())
        self.root = trimmed.isEmpty ? "/" : trimmed
        guard self.root != "/" else {
            directory = nil
            rootProblem = nil
            return
        }
        let opened = totpd_openat2(AT_FDCWD, self.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC, UInt64(RESOLVE_NO_SYMLINKS))
        let error = errno
        directory = opened >= 0 ? Descriptor(opened) : nil
        rootProblem = opened >= 0 ? nil : Self.rootProblem(error)
    }

    private static func rootProblem(_ error: Int32) -> String {
        switch error {
        case ELOOP: "leads through a symbolic link, which could point the check at another tree: give the path without links (realpath shows it)"
        case ENOENT: "does not exist"
        case ENOTDIR: "is not a directory"
        case ENOSYS: Unreadable.unconfined.description
        default: "cannot be opened (\(String(cString: strerror(error))))"
        }
    }

    package static func == (left: HostTree, right: HostTree) -> Bool { left.root == right.root }

    /// Checks of the running system (the daemon, `sshd -T`, the clock) apply only to `/`.
    package var isLiveSystem: Bool { root == "/" }

    /// Whether some read of this run was refused for the budget: the report is then incomplete.
    package var readLimitReached: Bool { budget.isSpent }

    package func path(_ hostPath: String) -> String {
        isLiveSystem ? hostPath : root + (hostPath.hasPrefix("/") ? hostPath : "/" + hostPath)
    }

    /// A file's text, or nil when it was not read.
    package func contents(of hostPath: String) -> String? { try? read(hostPath) }

    /// A regular file's text, read through the descriptor opened for it.
    package func read(_ hostPath: String) throws(Unreadable) -> String {
        let file = try open(hostPath, O_RDONLY | O_NONBLOCK | O_NOCTTY)
        defer { close(file) }
        var info = stat()
        guard fstat(file, &info) == 0 else { throw Unreadable.notReadable(String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw Unreadable.notARegularFile }
        guard info.st_size <= Self.maxFileSize else { throw Unreadable.tooLarge }
        // The file may grow after fstat: the limit holds for what is read.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(file, $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw Unreadable.notReadable(String(cString: strerror(errno))) }
            guard got > 0 else { break }
            guard bytes.count + got <= Self.maxFileSize else { throw Unreadable.tooLarge }
            try budget.spend(got)
            bytes += chunk[..<got]
        }
        // Decoding would replace a byte, and doctor would then read another name than libpam.
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Unreadable.notText }
        return text
    }

    /// The names in a directory, sorted by bytes, without `.` and `..`.
    package func entries(of hostDirectory: String) throws(Unreadable) -> [String] {
        let listed = try open(hostDirectory, O_RDONLY | O_DIRECTORY)
        guard let stream = fdopendir(listed) else {
            close(listed)
            throw .notReadable(String(cString: strerror(errno)))
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = try withUnsafeBytes(of: entry.pointee.d_name) { (raw) throws(Unreadable) in
                guard let text = String(validatingCString: raw.bindMemory(to: CChar.self).baseAddress!) else { throw .nameNotText }
                return text
            }
            guard name != ".", name != ".." else { continue }
            try budget.spend(name.utf8.count + 32)
            names.append(name)
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Why someone but root could change what `hostPath` leads to, or nil when no one can: the
    /// files PAM and sshd read decide who logs in, so each one, and every directory and link on
    /// the way to it, must be root's (or this process's owner's) and writable by no one else.
    /// A sticky directory others write in may be on the way to a directory of root's, which no
    /// one else can move there, but a file or a link in it may have been put there by anyone, a
    /// file of root's they moved or linked among them. A path that leads nowhere has nothing to
    /// change, but one that anyone may create does. `listed`: the directory is read for the
    /// names in it, which no one else may add to. /proc is refused: its links lead each process
    /// to its own files (its working directory, its root), so a login reads another file there.
    ///
    /// The path is followed as the kernel follows it, one component at a time from the root,
    /// links and `..` included, so that the check judges what a reader would open.
    package func ownershipProblem(of hostPath: String, listed: Bool = false) -> String? {
        let start = isLiveSystem ? Glibc.open("/", totpd_o_path | O_DIRECTORY | O_CLOEXEC) : directory.map { fcntl($0.value, F_DUPFD_CLOEXEC, 0) } ?? -1
        guard start >= 0 else { return nil }
        // The directories from the root to the one reached, each with its name.
        var walked: [(descriptor: Int32, name: String, info: stat)] = []
        defer { for directory in walked { close(directory.descriptor) } }
        var rootInfo = stat()
        fstat(start, &rootInfo)
        walked.append((start, "", rootInfo))
        // The path reached, with `name` after it, as messages name it.
        let shown = { (name: String?) in self.path("/" + (walked.dropFirst().map(\.name) + (name.map { [$0] } ?? [])).joined(separator: "/")) }
        if let problem = ownershipProblem(rootInfo, at: root, isLast: false) { return problem }
        var pending = Array(Self.components(hostPath).reversed())
        var links = 0
        while let name = pending.popLast() {
            guard name != "." else { continue }
            guard name != ".." else {
                if walked.count > 1 { close(walked.removeLast().descriptor) }
                continue
            }
            let parent = walked[walked.count - 1]
            let isLast = pending.isEmpty
            let othersWrite = parent.info.st_mode & 0o022 != 0
            if isLiveSystem && walked.count == 1 && name == "proc" {
                return "\(shown(name)) is below /proc, whose links each process follows to its own files (its working directory, its root), so a login may read another file there than doctor"
            }
            let opened = openat(parent.descriptor, name, totpd_o_path | O_NOFOLLOW | O_CLOEXEC)
            guard opened >= 0 else {
                let error = errno
                guard error == ENOENT else { return error == ENOTDIR ? nil : "\(shown(name)) cannot be checked (\(String(cString: strerror(error))))" }
                return othersWrite ? "\(shown(name)) does not exist, and others may create it in \(shown(nil))" : nil
            }
            var info = stat()
            fstat(opened, &info)
            switch info.st_mode & S_IFMT {
            case S_IFLNK:
                defer { close(opened) }
                // Only a sticky directory lets others write in it (any other is refused above).
                guard !othersWrite else { return "\(shown(name)) is a symbolic link in \(shown(nil)), a directory others write in, where anyone may have put it" }
                links += 1
                // Past 40 links the kernel refuses the path, and its reader fails.
                guard links <= 40 else { return nil }
                guard let target = Self.linkTarget(opened) else {
                    return "\(shown(name)) is a symbolic link doctor cannot follow (its target is not UTF-8 text)"
                }
                if target.hasPrefix("/") {
                    for directory in walked.dropFirst() { close(directory.descriptor) }
                    walked.removeSubrange(1...)
                }
                pending += Self.components(target).reversed()
            case S_IFDIR:
                walked.append((opened, name, info))
                if let problem = ownershipProblem(info, at: shown(nil), isLast: false) { return problem }
            default:
                close(opened)
                guard isLast else { return nil }
                // /dev/null, as a masked unit or file is: nothing to read, and writes vanish.
                if info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == Self.null?.st_rdev && isTrusted(info.st_uid) { return nil }
                guard !othersWrite else { return "\(shown(name)) is in \(shown(nil)), a directory others write in, where anyone may have put it (a file of root's they moved or linked there)" }
                return ownershipProblem(info, at: shown(name), isLast: true)
            }
        }
        // The directory reached, after any `.` and `..`, is the one listed.
        return listed ? ownershipProblem(walked[walked.count - 1].info, at: shown(nil), isLast: true) : nil
    }

    /// The program a script names on its `#!` line, which the kernel runs to run the script, and
    /// the one argument it gives it (the rest of the line, as Linux reads it).
    package func interpreter(of hostPath: String) -> (path: String, argument: String?)? {
        guard let file = try? open(hostPath, O_RDONLY | O_NONBLOCK | O_NOCTTY) else { return nil }
        defer { close(file) }
        var bytes = [UInt8](repeating: 0, count: 256)
        let got = bytes.withUnsafeMutableBytes { Glibc.read(file, $0.baseAddress, $0.count) }
        guard got > 2, bytes[0] == UInt8(ascii: "#"), bytes[1] == UInt8(ascii: "!") else { return nil }
        let blank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        let line = bytes[2..<got].prefix { $0 != 0x0A && $0 != 0 }.drop(while: blank)
        let path = line.prefix { !blank($0) }
        let argument = line.dropFirst(path.count).drop(while: blank)
        let trimmed = argument.reversed().drop(while: blank).reversed()
        guard !path.isEmpty else { return nil }
        return (String(decoding: path, as: UTF8.self), trimmed.isEmpty ? nil : String(decoding: trimmed, as: UTF8.self))
    }

    private func isTrusted(_ owner: uid_t) -> Bool { owner == 0 || owner == trustedOwner }

    private static let null: stat? = {
        var info = stat()
        return stat("/dev/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR ? info : nil
    }()

    /// A directory on the way may be sticky and writable by all, as /tmp is; what is read, or
    /// listed, may not.
    private func ownershipProblem(_ info: stat, at path: String, isLast: Bool) -> String? {
        guard isTrusted(info.st_uid) else { return "\(path) is owned by uid \(info.st_uid), not root" }
        let sticky = info.st_mode & S_ISVTX != 0 && info.st_mode & S_IFMT == S_IFDIR
        guard info.st_mode & 0o022 == 0 || (sticky && !isLast) else {
            return "\(path) is writable by group or others (mode \(String(info.st_mode & 0o7777, radix: 8)))"
        }
        return nil
    }

    private static func components(_ path: String) -> [String] {
        path.utf8.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
    }

    private static func linkTarget(_ link: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = buffer.withUnsafeMutableBytes { readlinkat(link, "", $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        guard length > 0, length < buffer.count else { return nil }
        return String(validating: buffer[..<length], as: UTF8.self)
    }

    /// Opens a host path: on the live system as it stands, in a tree below its root.
    private func open(_ hostPath: String, _ flags: Int32) throws(Unreadable) -> Int32 {
        try budget.spend(Self.costPerOpen)
        let descriptor: Int32
        if isLiveSystem {
            descriptor = Glibc.open(hostPath, flags | O_CLOEXEC)
        } else {
            guard let directory else { throw .missing }
            descriptor = totpd_openat2(directory.value, hostPath, flags | O_CLOEXEC, UInt64(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS))
        }
        guard descriptor >= 0 else {
            switch errno {
            case ENOENT, ENOTDIR: throw .missing
            case ENOSYS: throw .unconfined
            case let error: throw .notReadable(String(cString: strerror(error)))
            }
        }
        return descriptor
    }
}

/// A descriptor closed when the last copy of its tree goes.
private final class Descriptor: Sendable {
    let value: Int32

    init(_ value: Int32) {
        self.value = value
    }

    deinit {
        if value >= 0 { close(value) }
    }
}

/// The bytes (and opens) a doctor run may still read, shared by every copy of its tree.
private final class ReadBudget: Sendable {
    private let state = Mutex((left: HostTree.maxReadInAll, refused: false))

    var isSpent: Bool { state.withLock { $0.refused } }

    func spend(_ amount: Int) throws(HostTree.Unreadable) {
        let granted = state.withLock { state in
            state.refused = state.refused || state.left < amount
            guard !state.refused else { return false }
            state.left -= amount
            return true
        }
        guard granted else { throw .readLimitReached }
    }
}
