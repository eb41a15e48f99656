import Yams

#if canImport(Glibc)
import Glibc
#endif

/// Reads /etc/totpd/totpd.conf (YAML). Parsing is Yams' (libyaml); this type only maps the
/// document onto `DaemonConfiguration`, strictly: unknown keys, wrong types and out-of-range
/// values are errors that name the key and its line. Scalars are not resolved by YAML's
/// implicit typing (`no` is not false here); each key says what it accepts.
package struct ConfigurationFile {
    let path: String

    package static func load(path: String, contents: String) throws(ConfigurationError) -> DaemonConfiguration {
        do {
            return try ConfigurationFile(path: path).parse(contents)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(file: path, line: nil, key: nil, problem: "\(error)")
        }
    }

    /// The file's text, if only root can change it: a file others can write, or one in a
    /// directory they can change, would let them turn off the second factor. /dev/null stands
    /// for an empty file (a common way of saying "no configuration").
    package static func contents(of path: String) throws(ConfigurationError) -> String {
        func refuse(_ problem: String, remedy: Remedy? = nil) -> ConfigurationError {
            ConfigurationError(file: path, problem: problem, remedy: remedy)
        }
        do {
            try TrustedPath.checkDirectories(above: path, what: "configuration directory")
        } catch {
            throw refuse(error.problem, remedy: error.remedy)
        }
        // Non-blocking, so a FIFO put at the path cannot hang the start; fstat refuses it next.
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw refuse(errno == ELOOP ? "is a symbolic link; replace it with the file" : "cannot be read: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw refuse("cannot be read: \(String(cString: strerror(errno)))") }
        var null = stat()
        if info.st_mode & S_IFMT == S_IFCHR && stat("/dev/null", &null) == 0 && info.st_rdev == null.st_rdev { return "" }
        guard info.st_mode & S_IFMT == S_IFREG else { throw refuse("is not a regular file") }
        guard info.st_uid == 0 || info.st_uid == geteuid() else {
            throw refuse("is owned by uid \(info.st_uid); it must be root's", remedy: Remedy("chown root \(path)", lead: ": "))
        }
        guard info.st_mode & 0o022 == 0 else {
            let mode = String(info.st_mode & 0o7777, radix: 8)
            throw refuse("is writable by group or others (mode \(mode))", remedy: Remedy("chmod go-w \(path)"))
        }
        guard info.st_size <= maxSize else { throw refuse("is larger than \(maxSize / 1024) KiB") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + count, $0.count - count) }
            guard got > 0 else {
                guard got == 0 else { throw refuse("cannot be read: \(String(cString: strerror(errno)))") }
                break
            }
            count += got
        }
        guard count <= maxSize, let contents = String(validating: bytes[..<count], as: UTF8.self) else {
            throw refuse(count > maxSize ? "is larger than \(maxSize / 1024) KiB" : "is not UTF-8 text")
        }
        return contents
    }

    static let maxSize = 1 << 20

    func parse(_ contents: String) throws -> DaemonConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: contents, .basic)
        } catch {
            throw ConfigurationError(file: path, line: nil, key: nil, problem: "not valid YAML: \(error)")
        }
        var configuration = DaemonConfiguration()
        guard let root else { return configuration }
        try forEachKey(of: root, in: nil) { key, value, keyLine in
            switch key {
            case "socket": configuration.socketPath = try absolutePath(value, key)
            case "state_directory": configuration.stateDirectory = try absolutePath(value, key)
            case "key_file": configuration.keyFile = try optional(value, key) { try absolutePath($0, key) }
            case "issuer": configuration.issuer = try optional(value, key) { try text($0, key) }
            case "admin_group": configuration.adminGroup = try optional(value, key) { try existingGroup($0, key) }
            case "enrollment": try parseEnrollment(value, into: &configuration)
            case "enroll_at_login": configuration.enrollAtLogin = try serviceNames(value, key)
            case "verification":
                try forEachKey(of: value, in: key) { key, value, keyLine in
                    guard key == "verification.window" else { throw unknownKey(key, line: keyLine) }
                    configuration.window = try integer(value, key, 0...3)
                }
            case "rate_limit": try parseRateLimit(value, into: &configuration.throttle)
            case "lockout": try parseLockout(value, into: &configuration.throttle)
            case "second_factor":
                try forEachKey(of: value, in: key) { key, value, keyLine in
                    switch key {
                    case "second_factor.required": configuration.secondFactor.required = try principals(value, key)
                    case "second_factor.exempt": configuration.secondFactor.exempt = try principals(value, key)
                    default: throw unknownKey(key, line: keyLine)
                    }
                }
            case "grace_period":
                try forEachKey(of: value, in: key) { key, value, keyLine in
                    let service = String(key.dropFirst("grace_period.".count))
                    configuration.gracePeriods[service] = Int64(try integer(value, key, 0...86_400))
                }
            case "connections": try parseConnections(value, into: &configuration)
            case "audit":
                try forEachKey(of: value, in: key) { key, value, keyLine in
                    switch key {
                    case "audit.max_age": configuration.auditRetention.maxAge = Int64(try integer(value, key, 1...3650)) * 86_400
                    case "audit.max_rows": configuration.auditRetention.maxRows = Int64(try integer(value, key, 1000...100_000_000))
                    default: throw unknownKey(key, line: keyLine)
                    }
                }
            default: throw unknownKey(key, line: keyLine)
            }
        }
        return configuration
    }

    private func parseEnrollment(_ node: Node, into configuration: inout DaemonConfiguration) throws {
        var parameters = configuration.newEnrollmentParameters
        try forEachKey(of: node, in: "enrollment") { key, value, keyLine in
            switch key {
            case "enrollment.algorithm":
                let name = try text(value, key)
                guard let algorithm = OTPAlgorithm(rawValue: name.uppercased()) else {
                    throw error(value, key, "must be SHA1, SHA256 or SHA512, not \"\(name)\"")
                }
                parameters.algorithm = algorithm
            case "enrollment.digits": parameters.digits = try integer(value, key, OTPParameters.digitRange)
            case "enrollment.period": parameters.period = try integer(value, key, 15...300)
            case "enrollment.expiry": configuration.enrollmentLifetime = Int64(try integer(value, key, 60...86_400))
            default: throw unknownKey(key, line: keyLine)
            }
        }
        configuration.newEnrollmentParameters = parameters
    }

    private func parseRateLimit(_ node: Node, into throttle: inout ThrottlePolicy) throws {
        try forEachKey(of: node, in: "rate_limit") { key, value, keyLine in
            switch key {
            case "rate_limit.attempts": throttle.attempts = try integer(value, key, 1...20)
            case "rate_limit.interval": throttle.interval = Int64(try integer(value, key, 1...3600))
            default: throw unknownKey(key, line: keyLine)
            }
        }
    }

    private func parseLockout(_ node: Node, into throttle: inout ThrottlePolicy) throws {
        try forEachKey(of: node, in: "lockout") { key, value, keyLine in
            switch key {
            case "lockout.failures": throttle.lockoutThreshold = try integer(value, key, 1...20)
            case "lockout.initial_delay": throttle.initialDelay = Int64(try integer(value, key, 1...86_400))
            case "lockout.max_delay": throttle.maxDelay = Int64(try integer(value, key, 1...604_800))
            // NIST SP 800-63B allows at most 100 consecutive failures; stay well under it.
            case "lockout.hard_limit": throttle.hardLimit = try integer(value, key, 2...50)
            default: throw unknownKey(key, line: keyLine)
            }
        }
        guard throttle.maxDelay >= throttle.initialDelay else {
            throw ConfigurationError(file: path, line: node.mark?.line, key: "lockout.max_delay", problem: "must not be less than lockout.initial_delay (\(throttle.initialDelay))")
        }
        guard throttle.hardLimit > throttle.lockoutThreshold else {
            throw ConfigurationError(file: path, line: node.mark?.line, key: "lockout.hard_limit", problem: "must be greater than lockout.failures (\(throttle.lockoutThreshold))")
        }
    }

    private func parseConnections(_ node: Node, into configuration: inout DaemonConfiguration) throws {
        try forEachKey(of: node, in: "connections") { key, value, keyLine in
            switch key {
            case "connections.max": configuration.maxConnections = try integer(value, key, 16...65_536)
            case "connections.per_uid": configuration.maxConnectionsPerUID = try integer(value, key, 1...1024)
            case "connections.request_timeout":
                configuration.requestTimeoutMilliseconds = Int64(try integer(value, key, 1...60)) * 1000
            default: throw unknownKey(key, line: keyLine)
            }
        }
    }

    // MARK: Typed readers

    private func forEachKey(
        of node: Node, in section: String?, _ body: (String, Node, Int?) throws -> Void
    ) throws {
        guard let mapping = node.mapping else {
            throw error(node, section, "must be a mapping of keys to values")
        }
        for (keyNode, value) in mapping {
            guard let name = keyNode.scalar?.string else { throw error(keyNode, section, "keys must be plain names") }
            try body(section.map { "\($0).\(name)" } ?? name, value, keyNode.mark?.line)
        }
    }

    private func text(_ node: Node, _ key: String) throws -> String {
        guard let scalar = node.scalar else { throw error(node, key, "must be a single value") }
        return scalar.string
    }

    private func integer(_ node: Node, _ key: String, _ range: ClosedRange<Int>) throws -> Int {
        let value = try text(node, key)
        guard value.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), value.count <= 9,
            let number = Int(value), range.contains(number)
        else { throw error(node, key, "must be a whole number from \(range.lowerBound) to \(range.upperBound), not \"\(value)\"") }
        return number
    }

    private func absolutePath(_ node: Node, _ key: String) throws -> String {
        let value = try text(node, key)
        guard value.hasPrefix("/"), !value.utf8.contains(0) else {
            throw error(node, key, "must be an absolute path, not \"\(value)\"")
        }
        return value
    }

    /// An empty value means "use the built-in choice".
    private func optional<T>(
        _ node: Node, _ key: String, _ read: (Node) throws -> T
    ) throws -> T? {
        try text(node, key).isEmpty ? nil : read(node)
    }

    private func principals(_ node: Node, _ key: String) throws -> [String] {
        guard let sequence = node.sequence else {
            throw error(node, key, "must be a list such as [\"*\"] or [alice, \"%wheel\"]")
        }
        var names: [String] = []
        for item in sequence {
            let name = try text(item, key)
            guard !name.isEmpty, name != "%", !name.contains(where: \.isWhitespace) else {
                throw error(item, key, "entries must be user names, %group names or *, not \"\(name)\"")
            }
            // A mistyped group would silently exempt nobody or require nobody: refuse it.
            if name.hasPrefix("%") { _ = try existingGroup(item, key, name: String(name.dropFirst())) }
            names.append(name)
        }
        return names
    }

    private func serviceNames(_ node: Node, _ key: String) throws -> [String] {
        guard let sequence = node.sequence else {
            throw error(node, key, "must be a list of PAM service names such as [sshd, sudo], or [\"*\"]")
        }
        return try sequence.map { item in
            let name = try text(item, key)
            // PAM service names are file names in /etc/pam.d.
            guard !name.isEmpty, name.count <= 255, !name.contains("/"),
                !name.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
            else { throw error(item, key, "entries must be PAM service names or *, not \"\(name)\"") }
            return name
        }
    }

    private func existingGroup(_ node: Node, _ key: String, name: String? = nil) throws -> String {
        let group = try name ?? text(node, key)
        let found: UserDirectory.Group?
        do {
            found = try UserDirectory.group(named: group)
        } catch {
            throw self.error(node, key, "cannot check group \"\(group)\": \(error)")
        }
        guard found != nil else { throw error(node, key, "group \"\(group)\" does not exist") }
        return group
    }

    private func unknownKey(_ key: String, line: Int?) -> ConfigurationError {
        ConfigurationError(file: path, line: line, key: key, problem: "unknown key")
    }

    private func error(_ node: Node, _ key: String?, _ problem: String) -> ConfigurationError {
        ConfigurationError(file: path, line: node.mark?.line, key: key, problem: problem)
    }
}
