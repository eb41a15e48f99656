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
        /// A line of a type libpam does not know, or with no module: libpam keeps it as an auth
        /// line whose module is never called and always returns PAM_PERM_DENIED.
        package var mustFail = false

        package var location: String { "\(file):\(number)" }
        package var moduleName: String { module.split(separator: "/").last.map(String.init) ?? module }
        /// The module's name when it is the file of that name in the security directory, where
        /// libpam's own modules are: one of the same name elsewhere may do anything.
        package var systemModuleName: String? {
            // With /usr merged, as on Debian 12, /usr/lib is /lib.
            let systemPaths = [PAMStack.moduleDirectory, "/usr" + PAMStack.moduleDirectory].map { Array(($0 + moduleName).utf8) }
            // The kernel reads `//` as `/`.
            let written = Array(module.utf8).split(separator: UInt8(ascii: "/")).joined(separator: [UInt8(ascii: "/")])
            let isSystem = !module.utf8.contains(UInt8(ascii: "/")) || (module.hasPrefix("/") && systemPaths.contains { $0.dropFirst().elementsEqual(written) })
            return isSystem ? moduleName : nil
        }
        /// pam_totpd.so, or a copy of it under a name that says so (pam_totpd.so.1).
        package var isCodeModule: Bool { moduleName.hasPrefix("pam_totpd") && !mustFail }
        /// The `auth ...` text of the line, for messages: its first 200 characters, so that
        /// a line of megabytes is not repeated in every finding that names it.
        package var text: String {
            let whole = (["auth", control.text, module] + arguments).joined(separator: " ")
            return whole.count > 200 ? whole.prefix(200) + "…" : whole
        }
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
    /// Whether a file of it was read otherwise than libpam reads it, or not at all (it is no
    /// missing file, and no directory in /etc/pam.d): a pam_totpd.so line may be there.
    package private(set) var mayHideCode = false
    /// libpam stopped reading the service's own file, and fails every login of it.
    package private(set) var failsEveryLogin = false
    /// Whether a line of its files names pam_totpd in any of its words, the code or not: one
    /// libpam keeps as failing too, where the module's name stands anywhere (`auth pam_totpd.so`).
    package private(set) var namesCode = false
    /// The module files its lines load, of every type, as libpam finds them: a name that is
    /// not absolute is put after the security directory.
    package private(set) var modules: [(file: String, location: String)] = []
    /// Set once the stack ran past maxEntries: nothing more is loaded.
    private var isTruncated = false

    /// libpam 1.5 fails a substack this many substacks below the service's file
    /// (PAM_SUBSTACK_MAX_LEVEL).
    private static let maxSubstackLevel = 16
    /// libpam 1.5 follows includes with no limit but the files it may open at once; doctor
    /// follows them this deep, which also ends a file that includes itself.
    private static let maxDepth = 16
    /// Far more auth lines than any real stack has (Debian's run to a dozen); files that
    /// include each other more than once reach it long before the depth limit (three includes
    /// of itself are 3^16 loads), and the walks of PAMStackWalk stay small.
    static let maxEntries = 200

    package init(service: String, tree: HostTree) {
        self.service = service
        failsEveryLogin = !load(service, tree: tree, level: 0, depth: 0, from: nil, allTypes: true)
    }

    package var codeEntries: [Entry] { entries.filter { !$0.isSubstack && $0.line.isCodeModule } }

    /// The directories libpam 1.5 looks in, in turn, for a service (_pam_open_config_file): the
    /// admin's, then the distribution's. An include named without a path it looks for in the
    /// first alone.
    package static let directories = ["/etc/pam.d", "/usr/lib/pam.d"]

    /// Loads a file's lines as libpam does; false when libpam fails to load it, which for an
    /// include libpam turns into one line that always fails. `allTypes`: libpam adds the lines
    /// of every type (the service's file and what it @includes), not auth lines alone, and any
    /// of them can stop it.
    private mutating func load(_ name: String, tree: HostTree, level: Int, depth: Int, from: String?, allTypes: Bool) -> Bool {
        let candidates = name.hasPrefix("/") ? [name] : (from == nil ? Self.directories : [Self.directories[0]]).map { $0 + "/" + name }
        guard level < Self.maxSubstackLevel else {
            // Not read: what the admin meant to run there, pam_totpd.so perhaps, never runs.
            mayHideCode = true
            problem(
                "pam.substack-depth", at: from, "this substack is \(Self.maxSubstackLevel) substacks deep, where libpam stops: it fails, as a line that always fails",
                fix: "remove the substack that leads back to it, or nest fewer")
            return false
        }
        var text: String?
        var file = candidates[0]
        for candidate in candidates where text == nil {
            file = candidate
            let path = tree.path(file)
            // Whoever can change a file of the stack decides what it runs; and doctor, which
            // runs as root, would quote what it was made to lead to.
            if let owner = tree.ownershipProblem(of: file) {
                mayHideCode = true
                untrusted(file, owner, at: from ?? path, tree: tree)
                return true
            }
            guard depth < Self.maxDepth else {
                stopFollowing(at: from ?? path)
                return true
            }
            guard !isTruncated else { return true }
            do {
                text = try tree.read(file)
            } catch .missing {
                continue
            } catch .notARegularFile where from == nil {
                return true
            } catch {
                // Past the run's read limit every later file fails alike: one finding says so.
                isTruncated = error == .readLimitReached
                mayHideCode = true
                problem(
                    "pam.unreadable", at: from, "\(path) \(error), so the stack of service \(service) is not checked past it",
                    fix: "make \(path) a regular file that root can read, included once")
                return true
            }
        }
        let path = tree.path(file)
        guard let text else {
            // libpam runs the `other` service for a program whose file is not there.
            guard from != nil else { return true }
            var missing = "\(path) does not exist"
            let distributions = Self.directories[1] + "/" + name
            // Meant to be read, a pam_totpd.so line among it perhaps.
            mayHideCode = true
            if !name.hasPrefix("/"), tree.contents(of: distributions) != nil {
                missing += ", and libpam looks for an include in \(tree.path(Self.directories[0])) alone, not in \(tree.path(distributions))"
            }
            problem("pam.include-missing", at: from, "\(missing): this line always fails in service \(service)", fix: "create \(path) or remove the line that includes it")
            return false
        }
        let (lines, overlong, unfinished) = Self.logicalLines(text)
        if let overlong {
            mayHideCode = true
            problem(
                "pam.line-too-long", at: "\(path):\(overlong)",
                "libpam reads a line in pieces of at most \(Self.lineBuffer - 1) bytes and takes the rest as another line, or stops reading the file, so service \(service) does not run this file as it is written",
                fix: "keep each line, with the lines a backslash joins to it, under \(Self.lineBuffer - 1) bytes")
        }
        for (number, line) in lines {
            guard !isTruncated else { return true }
            guard entries.count <= Self.maxEntries else {
                isTruncated = true
                problem(
                    "pam.stack-too-large", at: "\(path):\(number)", "the auth stack of service \(service) runs to more than \(Self.maxEntries) lines with its includes",
                    fix: "include each file once: files that include each other repeat their lines")
                return true
            }
            let tokens = Self.tokens(line)
            if tokens.contains(where: { $0.contains("pam_totpd") }) { namesCode = true }
            guard let first = tokens.first.map(Self.unbracketed) else { continue }
            let location = "\(path):\(number)"
            let type = Self.lineType(first)
            if type == "@include" {
                // libpam includes the word after it and passes over any others.
                if tokens.count > 2 {
                    // What was meant to be included too may be the code.
                    mayHideCode = true
                    problem("pam.syntax", severity: .warning, at: location, "libpam includes only \(Self.unbracketed(tokens[1])) and passes over the rest of the line", fix: "write one @include line for each file")
                } else if tokens.count < 2 {
                    problem("pam.syntax", at: location, "@include names no file, so libpam fails it", fix: "write @include FILE")
                }
                if !(tokens.count >= 2 && load(Self.unbracketed(tokens[1]), tree: tree, level: level, depth: depth + 1, from: location, allTypes: allTypes)) {
                    // The failing line that stands in for it would be of every type, which libpam
                    // cannot add: it stops reading the file instead.
                    guard !allTypes else {
                        return stopsReading(
                            at: location, "libpam cannot keep this failed @include of \(path) as a failing line and stops reading the file: ", from: from,
                            fix: "make the @include name a file that libpam reads, or remove it")
                    }
                    includeFailed(at: path, number, control: "include", level: level)
                }
                continue
            }
            let controlText = tokens.count >= 2 ? tokens[1] : ""
            // libpam takes brackets off every word, so `[required]` is required.
            let keyword = Self.unbracketed(controlText).lowercased()
            let module = tokens.count >= 3 ? Self.unbracketed(tokens[2]) : ""
            if keyword != "include" && keyword != "substack" && !module.isEmpty {
                modules += Self.filesRun(module: module, arguments: tokens.dropFirst(3).map(Self.unbracketed)).map { ($0, location) }
            }
            let isOtherType = ["account", "session", "password"].contains(type)
            // Lines of those types take no part in the auth stack, but libpam loads the modules
            // an include of them names as well, as root in every login.
            if allTypes && isOtherType && (keyword == "include" || keyword == "substack") && !module.isEmpty {
                collectModules(module, type: type, tree: tree, depth: depth + 1, from: location)
                continue
            }
            // A line libpam adds names its module by the file name less its extension; when
            // nothing is left (`/x/.so`, `pam_env.so/`), libpam stops reading the file.
            if (allTypes || !isOtherType) && keyword != "include" && !module.isEmpty && Self.moduleName(module) == nil {
                return stopsReading(
                    at: location, "libpam cannot name the module `\(module)` (nothing is left of its file name but the extension, or `?`) and stops reading \(path) here: ",
                    from: from, fix: "name the module's file, such as pam_unix.so")
            }
            guard !isOtherType else { continue }
            let mustFail = type != "auth"
            if mustFail {
                problem(
                    "pam.syntax", at: location, "libpam knows no type `\(first)`: it takes the line as an auth line that always fails, and follows its control",
                    fix: "write auth, account, session or password, or remove the line")
            }
            if keyword == "include" || keyword == "substack", tokens.count < 3 {
                problem("pam.syntax", at: location, "\(keyword) names no file, so libpam fails it, as a line that always fails: \(line)", fix: "write auth \(keyword) FILE")
                if keyword == "substack" {
                    let entry = Line(file: path, number: number, control: PAMControl("required")!, module: "", arguments: [])
                    entries.append(Entry(line: entry, level: level, isSubstack: true))
                }
                includeFailed(at: path, number, control: controlText, level: level)
                continue
            }
            if (keyword == "include" || keyword == "substack") && tokens.count > 3 {
                mayHideCode = true
                problem("pam.syntax", severity: .warning, at: location, "libpam \(keyword)s only \(module) and passes over the rest of the line", fix: "write one \(keyword) line for each file")
            }
            if keyword == "include" {
                if !load(module, tree: tree, level: level, depth: depth + 1, from: location, allTypes: false) {
                    includeFailed(at: path, number, control: controlText, level: level)
                }
                continue
            }
            // A substack's own line takes no part in the walk but counts as one module for jumps.
            // A line libpam cannot read it keeps, as a module that always fails whose control,
            // where readable, still counts: it can be what a jump lands on.
            let parsed = keyword == "substack" ? PAMControl("required") : PAMControl(controlText)
            if parsed == nil || tokens.count < 3 {
                problem(
                    "pam.syntax", at: location, "libpam cannot read this line and keeps it as a module that always fails: \(line)",
                    fix: "write TYPE CONTROL MODULE [ARGUMENTS], see pam.conf(5)")
            }
            let entry = Line(
                file: path, number: number, control: parsed ?? PAMControl(unreadable: controlText), module: module,
                arguments: tokens.dropFirst(3).map(Self.unbracketed), mustFail: (mustFail || tokens.count < 3) && keyword != "substack")
            entries.append(Entry(line: entry, level: level, isSubstack: keyword == "substack"))
            if keyword == "substack", !load(module, tree: tree, level: level + 1, depth: depth + 1, from: location, allTypes: false) {
                includeFailed(at: path, number, control: controlText, level: level)
            }
        }
        if let unfinished {
            return stopsReading(
                at: "\(path):\(unfinished)", "the file ends in a line a backslash continues, and libpam stops reading it with an error: ", from: from,
                fix: "remove the backslash at the end of the last line")
        }
        return true
    }

    /// libpam stops reading a file at this line, and fails to load it: what follows, a
    /// pam_totpd.so line among it, it never loads. Always false, what `load` returns then.
    private mutating func stopsReading(at location: String, _ why: String, from: String?, fix: String) -> Bool {
        problem("pam.syntax", at: location, why + stopped(from), fix: fix)
        mayHideCode = true
        return false
    }

    /// Doctor follows includes no deeper: what lies deeper, a pam_totpd.so line or a module among
    /// it, it does not see, nor the rest, which a file that includes itself many times would
    /// make endless.
    private mutating func stopFollowing(at location: String) {
        mayHideCode = true
        isTruncated = true
        problem(
            "pam.include-depth", at: location,
            "this include is \(Self.maxDepth) levels deep: libpam goes on including (a loop until it can open no more files) and loads what it finds, doctor does not, so the stack of service \(service) is not checked past it",
            fix: "remove the include that leads back to it, or include fewer levels deep")
    }

    /// The files and modules of an include of another type than auth (`account include FILE`),
    /// followed for the files it reads and the modules it loads alone.
    private mutating func collectModules(_ name: String, type: String, tree: HostTree, depth: Int, from location: String) {
        guard !isTruncated else { return }
        guard depth < Self.maxDepth else { return stopFollowing(at: location) }
        let file = name.hasPrefix("/") ? name : Self.directories[0] + "/" + name
        if let owner = tree.ownershipProblem(of: file) {
            untrusted(file, owner, at: location, tree: tree)
            return
        }
        let text: String
        do {
            text = try tree.read(file)
        } catch .missing {
            return
        } catch {
            mayHideCode = true
            isTruncated = error == .readLimitReached
            problem(
                "pam.unreadable", at: location, "\(tree.path(file)) \(error), so the modules it loads are not checked",
                fix: "make \(tree.path(file)) a regular file that root can read, included once")
            return
        }
        for (number, line) in Self.logicalLines(text).lines {
            let words = Self.tokens(line).map(Self.unbracketed)
            guard let first = words.first else { continue }
            let lineType = Self.lineType(first)
            let here = "\(tree.path(file)):\(number)"
            if lineType == "@include", words.count >= 2 {
                collectModules(words[1], type: type, tree: tree, depth: depth + 1, from: here)
            } else if lineType == type, words.count >= 3 {
                if ["include", "substack"].contains(words[1].lowercased()) {
                    collectModules(words[2], type: type, tree: tree, depth: depth + 1, from: here)
                } else {
                    modules += Self.filesRun(module: words[2], arguments: Array(words.dropFirst(3))).map { ($0, here) }
                }
            }
        }
    }

    private mutating func untrusted(_ file: String, _ owner: String, at location: String, tree: HostTree) {
        problem(
            "pam.untrusted-file", at: location, "\(owner): whoever can change it decides what a login of service \(service) runs, so doctor does not read it",
            fix: DoctorFinding.ownershipFix(tree.path(file)))
    }

    /// A line's type as libpam reads its first word: in any case, and one leading dash only
    /// silences a missing module, the line working the same.
    private static func lineType(_ first: String) -> String {
        (first.hasPrefix("-") ? String(first.dropFirst()) : first).lowercased()
    }

    /// What libpam stopping in a file does: to the service's own, or to an include of it.
    private func stopped(_ from: String?) -> String {
        from == nil ? "every login of service \(service) fails" : "the include fails, as a line that always fails"
    }

    private mutating func problem(_ id: String, severity: DoctorFinding.Severity = .error, at location: String?, _ message: String, fix: String) {
        problems.append(DoctorFinding(id: id, severity: severity, subject: "PAM service \(service)", location: location, message: message, fix: fix))
    }

    /// libpam's stand-in for an include or substack it could not load: a line of no module
    /// whose every value is bad.
    private mutating func includeFailed(at path: String, _ number: Int, control: String, level: Int) {
        let line = Line(file: path, number: number, control: PAMControl(unreadable: control), module: "", arguments: [], mustFail: true)
        entries.append(Entry(line: line, level: level, isSubstack: false))
    }

    /// The name libpam gives a module (extract_modulename): its file name up to the last dot;
    /// nil for an empty one or `?`.
    private static func moduleName(_ path: String) -> String? {
        let file = path.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        let name = file.lastIndex(of: ".").map { file[..<$0] } ?? file
        return name.isEmpty || name == "?" ? nil : String(name)
    }

    /// The files a line runs as root: its module, where libpam looks for it (a name without a
    /// path from the security directory; `$ISA` in it, when the path as written does not load,
    /// replaced); for pam_exec, the program, which it takes to be the first word that is none of
    /// its options (in any case, as it compares them), run as written (a relative one from the
    /// working directory of the login), and the paths given to the program.
    private static func filesRun(module: String, arguments: [String]) -> [String] {
        let path = module.hasPrefix("/") ? module : moduleDirectory + module
        var files = [path]
        if let isa = path.range(of: "$ISA") { files.append(path.replacingCharacters(in: isa, with: "/lib/security")) }
        let execOptions = ["debug", "expose_authtok", "quiet", "quiet_log", "seteuid", "stdout"]
        let isOption = { (word: String) in
            let lowered = word.lowercased()
            return execOptions.contains(lowered) || lowered.hasPrefix("log=") || lowered.hasPrefix("type=")
        }
        guard path.split(separator: "/").last == "pam_exec.so" else { return files }
        let program = arguments.firstIndex { !isOption($0) } ?? arguments.endIndex
        // The file pam_exec writes the program's output to, as root.
        files += arguments[..<program].filter { $0.lowercased().hasPrefix("log=") }.map { String($0.dropFirst(4)) }
        guard program < arguments.endIndex else { return files }
        let given = arguments[(program + 1)...]
        files += [arguments[program]] + given.filter { $0.hasPrefix("/") } + script(run: arguments[program], with: given).filter { !$0.hasPrefix("/") }
        return files
    }

    /// The files an interpreter runs when given these words, by the name of its file (`sh`,
    /// `perl5.36.0`): its script, the first word that is neither an option nor an option's value,
    /// unless an option gives the program itself (`sh -c`, `python -m`, `perl -e`); for env, the
    /// program it runs when that is named by a path, and what that program runs in turn;
    /// busybox runs the applet its first word names; awk and sed run the file of their -f.
    static func script(run interpreter: String, with given: ArraySlice<String>) -> [String] {
        var name = interpreter.split(separator: "/").last.map(String.init) ?? interpreter
        var words = given
        if name == "busybox", let applet = words.popFirst() { name = applet }
        let shells: Set<String> = ["sh", "bash", "rbash", "dash", "zsh", "ksh", "mksh", "ash"]
        let isShell = shells.contains(name)
        if ["awk", "gawk", "mawk", "nawk", "sed"].contains(name) {
            return words.indices.dropLast().filter { words[$0] == "-f" }.map { words[$0 + 1] }
        }
        let (valued, inline): (Set<String>, Set<String>)
        switch name {
        case _ where isShell: (valued, inline) = (["-o", "+o", "-O", "+O", "--rcfile", "--init-file"], ["-c"])
        case "env": (valued, inline) = (["-u", "-C", "--unset", "--chdir"], [])
        case _ where name.hasPrefix("perl"): (valued, inline) = (["-I", "-M", "-m", "-x", "-0", "-l"], ["-e", "-E"])
        case _ where name.hasPrefix("python"): (valued, inline) = (["-W", "-X", "-Q"], ["-c", "-m"])
        case _ where name.hasPrefix("ruby"): (valued, inline) = (["-I", "-r", "-C", "-E", "-F"], ["-e"])
        case _ where ["node", "nodejs"].contains(name): (valued, inline) = (["-r", "--require"], ["-e", "-p", "--eval", "--print"])
        case _ where ["lua", "tclsh", "wish", "expect", "php", "fish"].contains { name.hasPrefix($0) }: (valued, inline) = ([], ["-e", "-c", "-r"])
        default: return []
        }
        while let word = words.popFirst() {
            if word == "--" { break }
            if inline.contains(word) || (isShell && word.hasPrefix("-") && !word.hasPrefix("--") && word.contains("c")) { return [] }
            if valued.contains(word) {
                _ = words.popFirst()
            } else if name == "env" && word.hasPrefix("-S") {
                // env -S splits its string into the words it runs.
                let string = word == "-S" ? (words.popFirst() ?? "") : String(word.dropFirst(2))
                words = ArraySlice(string.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) + words)
            } else if word.hasPrefix("-") || (isShell && word.hasPrefix("+")) || (name == "env" && word.contains("=")) {
                continue
            } else {
                words.insert(word, at: words.startIndex)
                break
            }
        }
        guard let operand = words.first else { return [] }
        guard name == "env" else { return [operand] }
        // A program env finds from PATH is the login's to choose, not the user's.
        return (operand.contains("/") ? [operand] : []) + script(run: operand, with: words.dropFirst())
    }

    /// Where libpam looks for a module named without a path (DEFAULT_MODULE_PATH): Debian's
    /// multiarch security directory for the architecture doctor was built for.
    static let moduleDirectory: String = {
        #if arch(x86_64)
        "/lib/x86_64-linux-gnu/security/"
        #elseif arch(arm64)
        "/lib/aarch64-linux-gnu/security/"
        #else
        "/lib/security/"
        #endif
    }()

    /// libpam 1.5 (Debian 12) assembles a line in a buffer of this many bytes, and reads the
    /// file with fgets into what is left of it.
    static let lineBuffer = 1024

    /// A file's lines as libpam 1.5 assembles them (_pam_assemble_line in pam_handlers.c), byte
    /// by byte: blank and comment lines are passed over, `#` ends a line wherever it stands, a
    /// backslash that then ends it continues it on the next; each comes with the number of its
    /// first line. `overlong` is the first line that did not fit the buffer: fgets cut it, and
    /// libpam took the rest as another line, or stopped reading the file there. `unfinished` is
    /// a line a backslash continues past the end of the file, where libpam stops with an error.
    static func logicalLines(_ text: String) -> (lines: [(Int, String)], overlong: Int?, unfinished: Int?) {
        let bytes = Array(text.utf8)
        let blank: Set<UInt8> = [0x20, 0x0A, 0x09]
        var lines: [(Int, String)] = []
        var position = 0
        var number = 1
        var overlong: Int?
        assembling: while true {
            var line: [UInt8] = []
            var first: Int?
            while true {
                let room = lineBuffer - line.count
                guard room > 1 else {
                    overlong = overlong ?? number
                    break assembling
                }
                // A backslash on the last line: libpam stops with an error.
                guard position < bytes.count else { return (lines, overlong, first) }
                // fgets: at most room - 1 bytes, through the first newline.
                let end = bytes[position..<min(bytes.count, position + room - 1)].firstIndex(of: 0x0A).map { $0 + 1 } ?? min(bytes.count, position + room - 1)
                var piece = bytes[position..<end]
                position = end
                let pieceNumber = number
                if piece.last == 0x0A {
                    number += 1
                } else if position < bytes.count {
                    overlong = overlong ?? pieceNumber
                }
                // C strings: what follows a NUL is not seen.
                if let nul = piece.firstIndex(of: 0) { piece = piece[..<nul] }
                guard let start = piece.firstIndex(where: { !blank.contains($0) }), piece[start] != 0x23 else { continue }
                first = first ?? pieceNumber
                if let hash = piece[start...].firstIndex(of: 0x23) {
                    line += piece[start..<hash]
                    break
                }
                if let last = piece[start...].lastIndex(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A }), piece[last] == 0x5C {
                    line += piece[start..<last] + [0x20]
                    continue
                }
                line += piece[start...]
                break
            }
            lines.append((first ?? number, String(decoding: line, as: UTF8.self)))
        }
        return (lines, overlong, nil)
    }

    /// Words as libpam's _pam_StrTok splits them, at space, tab and newline bytes, but a word
    /// that starts with `[` runs to the next `]` not written `\]`, spaces and all: the control
    /// `[success=done default=die]` and an argument such as `[prompt=Your code: ]`.
    static func tokens(_ line: String) -> [String] {
        var tokens: [String] = []
        var current: [UInt8] = []
        var bytes = Array(line.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == 0x5B && current.isEmpty {
                current.append(byte)
                while let inside = bytes.popFirst() {
                    current.append(inside)
                    if inside == 0x5D && current.dropLast().last != 0x5C { break }
                }
                tokens.append(String(decoding: current, as: UTF8.self))
                current = []
            } else if byte == 0x20 || byte == 0x09 || byte == 0x0A {
                if !current.isEmpty { tokens.append(String(decoding: current, as: UTF8.self)) }
                current = []
            } else {
                current.append(byte)
            }
        }
        if !current.isEmpty { tokens.append(String(decoding: current, as: UTF8.self)) }
        return tokens
    }

    /// A word as libpam uses it, the type, control, module and each argument alike: without
    /// its brackets, `\]` read as `]`.
    static func unbracketed(_ token: String) -> String {
        var bytes = Array(token.utf8)[...]
        guard bytes.popFirst() == 0x5B else { return token }
        // The `]` that closed it; a word left open runs to the end of the line.
        if bytes.last == 0x5D && bytes.dropLast().last != 0x5C { bytes.removeLast() }
        var word: [UInt8] = []
        while let byte = bytes.popFirst() {
            if byte == 0x5C && bytes.first == 0x5D { continue }
            word.append(byte)
        }
        return String(decoding: word, as: UTF8.self)
    }
}
