import Foundation

/// The sshd settings doctor needs, as sshd takes them: from `sshd -T` on the running system, or
/// read from sshd_config and the files it `Include`s, in order, where the first value of a
/// keyword wins. `Match` blocks apply only to some logins; their lines are not taken.
package struct SSHDConfiguration {
    package struct Setting: Sendable, Equatable {
        package var value: String
        /// `file:line`; nil for `sshd -T`'s answer.
        package var location: String?
        /// Which came first of two keywords that set the same thing.
        package var order: Int
    }

    /// Keywords in lower case, as sshd compares them.
    package private(set) var settings: [String: Setting] = [:]
    package private(set) var problems: [DoctorFinding] = []
    /// Where the settings came from, for messages: `sshd -T` or the main file.
    package let source: String

    /// The effective settings `sshd -T` printed.
    package init(effective output: String) {
        source = "sshd -T"
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 1).map(String.init)
            if words.count == 2, settings[words[0]] == nil {
                settings[words[0]] = Setting(value: words[1], location: nil, order: settings.count)
            }
        }
    }

    package init(tree: HostTree, file: String = "/etc/ssh/sshd_config") {
        source = tree.path(file)
        read(file, tree: tree, depth: 0)
    }

    /// More files than any real configuration reads; an Include that names its own file more
    /// than once reaches it long before sshd's depth limit of 16.
    static let maxFiles = 256
    /// More paths than any real Include pattern matches at any of its components, so a tree of
    /// links to itself cannot multiply the work.
    static let maxMatches = 4096
    private var filesRead = 0

    package subscript(_ keyword: String) -> Setting? { settings[keyword.lowercased()] }

    private mutating func read(_ file: String, tree: HostTree, depth: Int) {
        guard depth < 16, filesRead <= Self.maxFiles else { return }
        filesRead += 1
        guard filesRead <= Self.maxFiles else {
            includeLimit(at: tree.path(file), "sshd_config and its Includes name more than \(Self.maxFiles) files", fix: "include each file once")
            return
        }
        let text: String
        do {
            text = try tree.read(file)
        } catch .missing where depth > 0 {
            // sshd passes over an Include that names no file.
            return
        } catch {
            let path = tree.path(file)
            problems.append(
                depth == 0 && error == .missing
                    ? DoctorFinding.skipped(
                        "sshd.no-configuration", subject: "sshd", because: "\(path) \(error), so sshd's settings are unknown",
                        fix: "check UsePAM, KbdInteractiveAuthentication and AuthenticationMethods by hand")
                    : unreadable(at: path, "\(path) \(error)"))
            return
        }
        var inMatch = false
        // sshd reads bytes: lines end at a newline, words at space, tab or carriage return.
        let blank = { (scalar: Unicode.Scalar) in scalar == " " || scalar == "\t" || scalar == "\r" }
        let string = { (scalars: Substring.UnicodeScalarView) in String(String.UnicodeScalarView(scalars)) }
        for (index, raw) in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard let start = raw.firstIndex(where: { !blank($0) }), raw[start] != "#", let end = raw.lastIndex(where: { !blank($0) }) else { continue }
            let line = raw[start...end]
            let location = "\(tree.path(file)):\(index + 1)"
            // "Keyword value" or "Keyword=value".
            let separator = line.firstIndex { $0 == "=" || blank($0) } ?? line.endIndex
            let keyword = string(line[..<separator]).lowercased()
            let rest = line[separator...].drop { $0 == "=" || blank($0) }
            switch keyword {
            case "match": inMatch = string(rest).lowercased() != "all"
            case _ where inMatch: continue
            case "include":
                for pattern in rest.split(whereSeparator: blank) {
                    let files: [String]?
                    do {
                        files = try Self.expand(string(pattern), tree: tree)
                    } catch {
                        problems.append(unreadable(at: location, "a directory this Include lists \(error)"))
                        continue
                    }
                    guard let files else {
                        includeLimit(
                            at: location, "an Include pattern is longer than \(PATH_MAX) bytes or matches more than \(Self.maxMatches) paths",
                            fix: "name the files to include with a shorter pattern")
                        continue
                    }
                    for included in files { read(included, tree: tree, depth: depth + 1) }
                }
            default:
                if settings[keyword] == nil {
                    settings[keyword] = Setting(value: string(rest), location: location, order: settings.count)
                }
            }
        }
    }

    /// A warning, not a note: what doctor could not read may let a key alone in.
    private func unreadable(at location: String, _ what: String) -> DoctorFinding {
        DoctorFinding(
            id: "sshd.unreadable", severity: .warning, subject: "sshd", location: location,
            message: "\(what), so the sshd settings in it are not checked",
            fix: "make it a regular UTF-8 file of at most \(HostTree.maxFileSize >> 20) MiB that root can read, or check UsePAM, KbdInteractiveAuthentication and AuthenticationMethods by hand")
    }

    private mutating func includeLimit(at location: String, _ what: String, fix: String) {
        problems.append(
            DoctorFinding(
                id: "sshd.include-limit", severity: .error, subject: "sshd", location: location,
                message: "\(what): the settings it would bring are not checked", fix: fix))
    }

    /// An Include's files in the order sshd reads them: a relative pattern is taken from
    /// /etc/ssh, and a glob's matches (`*`, `?`, `[...]` in any component, as glob(3) takes
    /// them) are sorted. Names are listed through the tree, so a link cannot lead out of it.
    /// nil when the pattern is longer than a path may be or matches too much to follow; throws
    /// when a directory it lists cannot be read.
    private static func expand(_ pattern: String, tree: HostTree) throws(HostTree.Unreadable) -> [String]? {
        let hostPattern = pattern.hasPrefix("/") ? pattern : "/etc/ssh/" + pattern
        guard hostPattern.utf8.count <= PATH_MAX else { return nil }
        // glob(3) follows no path longer than PATH_MAX, nor does sshd read one.
        let fits = { (path: String) in path.utf8.count <= PATH_MAX }
        var paths = [""]
        for component in hostPattern.split(separator: "/").map(String.init) {
            guard component.contains(where: { "*?[".contains($0) }) else {
                paths = paths.map { $0 + "/" + component }.filter(fits)
                continue
            }
            var matches: [String] = []
            for base in paths {
                let names: [String]
                do {
                    names = try tree.entries(of: base.isEmpty ? "/" : base)
                } catch .missing {
                    continue
                }
                for name in names where fnmatch(component, name, FNM_PERIOD) == 0 && fits(base + "/" + name) {
                    guard matches.count < maxMatches else { return nil }
                    matches.append(base + "/" + name)
                }
            }
            paths = matches
        }
        return paths.filter { !$0.isEmpty }.sorted()
    }
}
