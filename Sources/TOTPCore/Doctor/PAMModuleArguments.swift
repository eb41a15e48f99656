/// The PAM module's argument parser (Sources/pam_totpd/args.c, `totpd_args_parse`) again, so
/// doctor refuses exactly what the module would refuse with PAM_SERVICE_ERR, in its words.
/// DoctorTests runs both on the same arguments and compares, and reads args.c's argument names,
/// so the two cannot drift apart unnoticed.
package enum PAMModuleArguments {
    /// Every argument name args.c recognises, `name=` for those that take a value.
    package static let names = ["socket=", "timeout=", "prompt=", "unenrolled=", "use_first_pass", "try_first_pass", "debug"]

    // totpd_args.h: sun_path's size, the timeout's bounds, the prompt buffer.
    private static let socketPathSize = 108
    private static let timeoutSeconds = 1...60
    private static let promptSize = 129

    /// nil when the module accepts the arguments; else the module's error message.
    package static func problem(in arguments: [String]) -> String? {
        var seen: Set<String> = []
        var socketPath = "/run/totpd/socket"
        var firstPass: String?
        for argument in arguments {
            if let value = value(of: argument, "socket") {
                let length = value.utf8.count
                guard value.hasPrefix("/") else { return "argument \"\(argument)\": the socket path must be absolute" }
                guard length < socketPathSize else {
                    return "argument \"\(bytes(argument, 40))...\": the socket path is \(length) bytes, at most \(socketPathSize - 1) fit"
                }
                guard seen.insert("socket").inserted else { return "argument \"\(argument)\": socket= given twice" }
                socketPath = value
            } else if let value = value(of: argument, "timeout") {
                guard isSeconds(value) else {
                    return "argument \"\(bytes(argument, 40))\": timeout must be a whole number of seconds from "
                        + "\(timeoutSeconds.lowerBound) to \(timeoutSeconds.upperBound)"
                }
                guard seen.insert("timeout").inserted else { return "argument \"\(argument)\": timeout= given twice" }
            } else if let value = value(of: argument, "prompt") {
                let length = value.utf8.count
                guard length > 0, length < promptSize, !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) else {
                    return "argument \"\(bytes(argument, 40))\": the prompt must be 1 to \(promptSize - 1) bytes of text"
                }
                guard seen.insert("prompt").inserted else { return "argument \"\(bytes(argument, 40))\": prompt= given twice" }
            } else if let value = value(of: argument, "unenrolled") {
                guard ["deny", "allow", "enroll"].contains(value) else {
                    return "argument \"\(bytes(argument, 40))\": unenrolled must be deny, allow or enroll"
                }
                guard seen.insert("unenrolled").inserted else { return "argument \"\(argument)\": unenrolled= given twice" }
            } else if argument == "use_first_pass" || argument == "try_first_pass" {
                guard firstPass == nil else {
                    return "argument \"\(argument)\": use_first_pass and try_first_pass exclude each other and may be given once"
                }
                firstPass = argument
            } else if argument == "debug" {
                guard seen.insert("debug").inserted else { return "argument \"\(argument)\" given twice" }
            } else {
                return "unknown argument \"\(bytes(argument, 64))\""
            }
        }
        // Root's socket is the path with ".root" appended; it must fit too.
        guard socketPath.utf8.count + ".root".utf8.count < socketPathSize else {
            return "socket path \"\(bytes(socketPath, 40))...\": with \".root\" appended (root's socket) it would not fit in \(socketPathSize - 1) bytes"
        }
        return nil
    }

    /// The value of `name=VALUE`, or nil for another argument.
    private static func value(of argument: String, _ name: String) -> String? {
        let prefix = Array((name + "=").utf8)
        let bytes = Array(argument.utf8)
        guard bytes.starts(with: prefix) else { return nil }
        return String(decoding: bytes[prefix.count...], as: UTF8.self)
    }

    /// Digits only, within bounds; the C parser stops at the first prefix above the maximum.
    private static func isSeconds(_ text: String) -> Bool {
        var value = 0
        for byte in text.utf8 {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return false }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            guard value <= timeoutSeconds.upperBound else { return false }
        }
        return !text.isEmpty && value >= timeoutSeconds.lowerBound
    }

    /// printf's `%.Ns`: at most N bytes.
    private static func bytes(_ text: String, _ count: Int) -> String {
        String(decoding: text.utf8.prefix(count), as: UTF8.self)
    }
}
