import Foundation

/// The sshd settings doctor needs, as sshd takes them: from `sshd -T` on the running system, or
/// read from sshd_config and the files it `Include`s, in order, where the first value of a
/// keyword wins. A `Match all` block's values override those outside Match blocks, as sshd
/// applies a matching block over the main settings; other `Match` blocks apply to some logins
/// only, and a warning names what they change.
package struct SSHDConfiguration {
    package struct Setting: Sendable, Equatable {
        package var value: String
        /// `file:line`; nil for `sshd -T`'s answer.
        package var location: String?
        /// The keyword as written, which may be an alias (ChallengeResponseAuthentication).
        package var keyword: String
    }

    /// Keywords in lower case, as sshd compares them.
    package private(set) var settings: [String: Setting] = [:]
    /// What `Match all` blocks set, first value winning among them.
    private var matchingAll: [String: Setting] = [:]
    package private(set) var problems: [DoctorFinding] = []
    /// Files and directories someone but root can change: not read, since what they say is theirs.
    package private(set) var untrustedFiles: [DoctorFinding] = []
    /// Settings that Match blocks change for some logins, which doctor does not follow.
    package private(set) var matchOverrides: [DoctorFinding] = []
    /// Where the settings came from, for messages: `sshd -T` or the main file.
    package let source: String

    /// The effective settings `sshd -T` printed.
    package init(effective output: String) {
        source = "sshd -T"
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 1).map(String.init)
            if words.count == 2, settings[words[0]] == nil {
                settings[words[0]] = Setting(value: words[1], location: nil, keyword: words[0])
            }
        }
    }

    package init(tree: HostTree, file: String = "/etc/ssh/sshd_config") {
        source = tree.path(file)
        read(file, tree: tree, depth: 0)
    }

    /// More files than any real configuration reads; an Include that names its own file more
    /// than once reaches it long before sshd's depth limit.
    static let maxFiles = 256
    /// sshd reads files this many Includes below sshd_config, and refuses to start past it
    /// (SERVCONF_MAX_DEPTH).
    static let maxDepth = 16
    /// More paths than any real Include pattern matches at any of its components, so a tree of
    /// links to itself cannot multiply the work.
    static let maxMatches = 4096
    private var filesRead = 0

    /// A setting by its name in `sshd -T`, whichever of its aliases set it.
    package subscript(_ keyword: String) -> Setting? { matchingAll[keyword.lowercased()] ?? settings[keyword.lowercased()] }

    /// Old names sshd still takes for a setting (servconf.c), by which they set it.
    private static let aliases = [
        "challengeresponseauthentication": "kbdinteractiveauthentication", "skeyauthentication": "kbdinteractiveauthentication",
        "dsaauthentication": "pubkeyauthentication",
    ]

    /// `block`: the Match block the Include that names the file stands in, as for matchesAll.
    private mutating func read(_ file: String, tree: HostTree, depth: Int, in block: Bool? = nil) {
        guard filesRead <= Self.maxFiles else { return }
        filesRead += 1
        guard filesRead <= Self.maxFiles else {
            includeLimit(at: tree.path(file), "sshd_config and its Includes name more than \(Self.maxFiles) files", fix: "include each file once")
            return
        }
        if let owner = tree.ownershipProblem(of: file) {
            untrusted(at: tree.path(file), owner)
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
        guard depth <= Self.maxDepth else {
            problems.append(
                DoctorFinding(
                    id: "sshd.include-depth", severity: .error, subject: "sshd", location: tree.path(file),
                    message: "\(tree.path(file)) is \(depth) Includes below sshd_config: past \(Self.maxDepth) sshd stops with \"Too many recursive configuration includes\" and does not start",
                    fix: "include the files from fewer levels, and no file from itself"))
            return
        }
        // nil outside Match blocks, else whether the block matches every login; a Match in an
        // included file ends with it.
        var matchesAll = block
        for (number, raw) in Self.lines(text) {
            guard let start = raw.firstIndex(where: { !Self.isBlank($0) }), raw[start] != "#" else { continue }
            var line = raw[start...]
            let location = "\(tree.path(file)):\(number)"
            // "Keyword value", "Keyword=value" or "\"Keyword\" value", as sshd's strdelim takes it.
            let written: String
            if line.first == "\"" {
                line.removeFirst()
                guard let close = line.firstIndex(of: "\"") else { continue }
                written = String(String.UnicodeScalarView(line[..<close]))
                line = line[line.index(after: close)...]
            } else {
                let separator = line.firstIndex { $0 == "=" || Self.isBlank($0) } ?? line.endIndex
                written = String(String.UnicodeScalarView(line[..<separator]))
                line = line[separator...]
            }
            let keyword = Self.aliases[written.lowercased()] ?? written.lowercased()
            let words = Self.words(line.drop { $0 == "=" || Self.isBlank($0) })
            switch keyword {
            case "include":
                for pattern in words {
                    let files: [String]?
                    var listedByOthers: [String] = []
                    do {
                        defer { for owner in listedByOthers { untrusted(at: location, owner) } }
                        files = try Self.expand(pattern, tree: tree, untrusted: &listedByOthers)
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
                    for included in files { read(included, tree: tree, depth: depth + 1, in: matchesAll) }
                }
            case "match": matchesAll = words.first?.lowercased() == "all"
            case _ where matchesAll == true:
                if matchingAll[keyword] == nil {
                    matchingAll[keyword] = Setting(value: words.joined(separator: " "), location: location, keyword: written)
                }
            case _ where matchesAll == false:
                if Self.overriddenInMatch.contains(keyword) {
                    matchOverrides.append(
                        DoctorFinding(
                            id: "sshd.match-override", severity: .warning, subject: "sshd", location: location,
                            message: "a Match block sets \(keyword) for some logins, which doctor does not follow: it checks what applies to every login",
                            fix: "check that those logins still need the code: sshd -T -C user=NAME,host=HOST,addr=ADDRESS"))
                }
            default:
                if settings[keyword] == nil {
                    settings[keyword] = Setting(value: words.joined(separator: " "), location: location, keyword: written)
                }
            }
        }
    }

    /// Settings a Match block can use to let some logins in without the code.
    private static let overriddenInMatch: Set<String> = [
        "authenticationmethods", "kbdinteractiveauthentication", "challengeresponseauthentication", "pubkeyauthentication",
        "hostbasedauthentication", "gssapiauthentication", "kerberosauthentication", "passwordauthentication",
    ]

    /// A file's lines as sshd's load_server_config keeps them, with their numbers: a line ends
    /// at a newline, but one with a NUL in it ends there, and the next line runs on from it.
    private static func lines(_ text: String) -> [(Int, String.UnicodeScalarView)] {
        var lines: [(Int, String.UnicodeScalarView)] = []
        var line = String.UnicodeScalarView()
        var (number, first, cut) = (1, 1, false)
        for scalar in text.unicodeScalars {
            if scalar == "\n" {
                number += 1
                if cut {
                    cut = false
                    continue
                }
                lines.append((first, line))
                (line, first) = (String.UnicodeScalarView(), number)
            } else if scalar == "\0" {
                cut = true
            } else if !cut {
                line.append(scalar)
            }
        }
        if !line.isEmpty { lines.append((first, line)) }
        return lines
    }

    private static func isBlank(_ scalar: Unicode.Scalar) -> Bool { scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\u{0C}" }

    /// A line's arguments as sshd's argv_split takes them: words at blanks, '…' and "…" quoting,
    /// a backslash escaping a quote, a backslash or a space, and a word that starts with `#`
    /// ending the line.
    static func words(_ text: Substring.UnicodeScalarView) -> [String] {
        var words: [String] = []
        var word = String.UnicodeScalarView()
        var inWord = false
        var quote: Unicode.Scalar?
        var rest = text[...]
        while let scalar = rest.popFirst() {
            if quote == nil && isBlank(scalar) {
                if inWord { words.append(String(word)) }
                (word, inWord) = (String.UnicodeScalarView(), false)
            } else if quote == nil && !inWord && scalar == "#" {
                break
            } else if scalar == "\\" {
                // Only a quote, a backslash or (unquoted) a space is escaped; before anything else the backslash stays.
                if let next = rest.first, next == "\"" || next == "'" || next == "\\" || (quote == nil && next == " ") {
                    word.append(rest.removeFirst())
                } else {
                    word.append(scalar)
                }
                inWord = true
            } else if scalar == quote {
                quote = nil
            } else if quote == nil && (scalar == "\"" || scalar == "'") {
                (quote, inWord) = (scalar, true)
            } else {
                word.append(scalar)
                inWord = true
            }
        }
        if inWord { words.append(String(word)) }
        return words
    }

    /// A warning, not a note: what doctor could not read may let a key alone in.
    private func unreadable(at location: String, _ what: String) -> DoctorFinding {
        DoctorFinding(
            id: "sshd.unreadable", severity: .warning, subject: "sshd", location: location,
            message: "\(what), so the sshd settings in it are not checked",
            fix: "make it a regular UTF-8 file of at most \(HostTree.maxFileSize >> 20) MiB that root can read, or check UsePAM, KbdInteractiveAuthentication and AuthenticationMethods by hand")
    }

    private mutating func untrusted(at location: String, _ owner: String) {
        untrustedFiles.append(
            DoctorFinding(
                id: "sshd.untrusted-file", severity: .error, subject: "sshd", location: location,
                message: "\(owner): whoever can change it sets how sshd logs in (AuthenticationMethods publickey alone skips the code), so doctor does not read it",
                fix: "keep sshd_config and what it includes in root's directories, as root's files writable by no one else (chown root, chmod go-w)"))
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
    /// when a directory it lists cannot be read. `untrusted` gets why others may add names to a
    /// directory a glob lists, which are then not listed.
    private static func expand(_ pattern: String, tree: HostTree, untrusted: inout [String]) throws(HostTree.Unreadable) -> [String]? {
        // sshd takes a relative name from /etc/ssh, but one that starts with `~` from its working
        // directory, which systemd makes `/`.
        let hostPattern = pattern.hasPrefix("/") ? pattern : pattern.hasPrefix("~") ? "/" + pattern : "/etc/ssh/" + pattern
        guard hostPattern.utf8.count <= PATH_MAX else { return nil }
        // glob(3) follows no path longer than PATH_MAX, nor does sshd read one.
        let fits = { (path: String) in path.utf8.count <= PATH_MAX }
        var paths = [""]
        for component in hostPattern.split(separator: "/").map(String.init) {
            // glob(3) unescapes a backslash in any component, so such a component is matched too.
            guard component.contains(where: { "*?[\\".contains($0) }) else {
                paths = paths.map { $0 + "/" + component }.filter(fits)
                continue
            }
            var matches: [String] = []
            for base in paths {
                if let owner = tree.ownershipProblem(of: base.isEmpty ? "/" : base, listed: true) {
                    untrusted.append(owner)
                    continue
                }
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
        // glob(3) sorts as strcmp in sshd's C locale: by bytes.
        return paths.filter { !$0.isEmpty }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
