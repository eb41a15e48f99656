import Foundation

/// One service's auth stack as libpam loads it from /etc/pam.d (pam_handlers.c): `include` and
/// `@include` put the other file's lines in place; `substack` adds an entry followed by the other
/// file's lines one level deeper, so that `done`, `die` and jumps in it stay inside it.
package struct PAMStack: Sendable {
    /// One module line, where it is written.
    package struct Line: Sendable, Equatable {
        package var file: String
        package var number: Int
        package var control: PAMControl
        /// The module path, or for a substack the file it names.
        package var module: String
        package var arguments: [String]

        package var location: String { "\(file):\(number)" }
        package var moduleName: String { module.split(separator: "/").last.map(String.init) ?? module }
        package var isCodeModule: Bool { moduleName == "pam_totpd.so" }
        /// The `auth ...` text of the line, for messages.
        package var text: String { (["auth", control.text, module] + arguments).joined(separator: " ") }
    }

    package struct Entry: Sendable, Equatable {
        package var line: Line
        package var level: Int
        package var isSubstack: Bool
    }

    package let service: String
    package private(set) var entries: [Entry] = []
    /// Lines libpam could not use, and files it could not read.
    package private(set) var problems: [DoctorFinding] = []
    /// Set once the stack ran past maxEntries: nothing more is loaded.
    private var isTruncated = false

    /// libpam stops at this many nested substacks (PAM_SUBSTACK_MAX_LEVEL); includes are held
    /// to it too, which also ends a file that includes itself.
    private static let maxDepth = 16
    /// Far more auth lines than any real stack has (Debian's run to a dozen); files that
    /// include each other more than once reach it long before the depth limit (three includes
    /// of itself are 3^16 loads), and the walks of PAMStackWalk stay small.
    static let maxEntries = 200

    package init(service: String, tree: HostTree) {
        self.service = service
        load(file: "/etc/pam.d/" + service, tree: tree, level: 0, depth: 0, from: nil)
    }

    package var codeEntries: [Entry] { entries.filter { !$0.isSubstack && $0.line.isCodeModule } }

    private mutating func load(file: String, tree: HostTree, level: Int, depth: Int, from: String?) {
        let path = tree.path(file)
        guard depth <= Self.maxDepth else {
            problem("pam.include-loop", at: from, "\(path) is included more than \(Self.maxDepth) levels deep (a loop?)", fix: "remove the include that leads back to it")
            return
        }
        guard !isTruncated else { return }
        let text: String
        do {
            text = try tree.read(file)
        } catch .missing {
            problem("pam.include-missing", at: from, "\(path) does not exist, so libpam fails every login of service \(service)", fix: "create \(path) or remove the line that includes it")
            return
        } catch {
            // Past the run's read limit every later file fails alike: one finding says so.
            isTruncated = error == .readLimitReached
            problem(
                "pam.unreadable", at: from, "\(path) \(error), so the stack of service \(service) is not checked past it",
                fix: "make \(path) a regular file that root can read, included once")
            return
        }
        for (number, line) in Self.logicalLines(text) {
            guard !isTruncated else { return }
            guard entries.count <= Self.maxEntries else {
                isTruncated = true
                problem(
                    "pam.stack-too-large", at: "\(path):\(number)", "the auth stack of service \(service) runs to more than \(Self.maxEntries) lines with its includes",
                    fix: "include each file once: files that include each other repeat their lines")
                return
            }
            let tokens = Self.tokens(line)
            guard let first = tokens.first else { continue }
            let location = "\(path):\(number)"
            if first == "@include" {
                guard tokens.count == 2 else {
                    problem("pam.syntax", at: location, "@include takes one file name", fix: "write @include FILE")
                    continue
                }
                load(file: Self.includedFile(tokens[1]), tree: tree, level: level, depth: depth + 1, from: location)
                continue
            }
            // A leading dash only silences a missing module; the line works the same.
            guard first.drop(while: { $0 == "-" }).lowercased() == "auth" else { continue }
            let controlText = tokens.count >= 3 ? tokens[1].lowercased() : ""
            if controlText == "include" {
                load(file: Self.includedFile(tokens[2]), tree: tree, level: level, depth: depth + 1, from: location)
                continue
            }
            // A substack's own line takes no part in the walk but counts as one module for jumps.
            guard let control = controlText == "substack" ? PAMControl("required") : PAMControl(controlText) else {
                problem("pam.syntax", at: location, "libpam cannot read this line: \(line)", fix: "write TYPE CONTROL MODULE [ARGUMENTS], see pam.conf(5)")
                continue
            }
            let entry = Line(file: path, number: number, control: control, module: tokens[2], arguments: tokens.dropFirst(3).map(Self.argument))
            entries.append(Entry(line: entry, level: level, isSubstack: controlText == "substack"))
            if controlText == "substack" {
                load(file: Self.includedFile(tokens[2]), tree: tree, level: level + 1, depth: depth + 1, from: location)
            }
        }
    }

    private mutating func problem(_ id: String, at location: String?, _ message: String, fix: String) {
        problems.append(DoctorFinding(id: id, severity: .error, subject: "PAM service \(service)", location: location, message: message, fix: fix))
    }

    private static func includedFile(_ name: String) -> String { name.hasPrefix("/") ? name : "/etc/pam.d/" + name }

    /// Lines as libpam assembles them: `#` starts a comment wherever it stands, and a backslash
    /// that then ends the line continues it on the next. Each comes with the number of its first line.
    static func logicalLines(_ text: String) -> [(Int, String)] {
        var result: [(Int, String)] = []
        var pending = ""
        var start = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if pending.isEmpty { start = index + 1 }
            var line = Substring(raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            while line.last?.isWhitespace == true { line = line.dropLast() }
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
                continue
            }
            result.append((start, pending + line))
            pending = ""
        }
        return result
    }

    /// Words split at white space, but a word that starts with `[` runs to the next `]` not
    /// written `\]`, spaces and all: the control `[success=done default=die]` and an argument
    /// such as `[prompt=Your code: ]`.
    static func tokens(_ line: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var inBracket = false
        var previous: Character?
        for character in line {
            if inBracket {
                current.append(character)
                if character == "]" && previous != "\\" { inBracket = false }
            } else if character.isWhitespace {
                if !current.isEmpty { tokens.append(current) }
                current = ""
            } else {
                if current.isEmpty && character == "[" { inBracket = true }
                current.append(character)
            }
            previous = character
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    /// A module argument as the module receives it: without its brackets, `\]` read as `]`.
    static func argument(_ token: String) -> String {
        guard token.hasPrefix("["), token.hasSuffix("]"), token.count >= 2 else { return token }
        return String(token.dropFirst().dropLast()).replacingOccurrences(of: "\\]", with: "]")
    }
}
