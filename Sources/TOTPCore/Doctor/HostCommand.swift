import Foundation

/// A program doctor asks about the running system (sshd -T, timedatectl, chronyc), with a time
/// limit: a hung tool must not hang the check.
package struct HostCommand {
    package var status: Int32
    package var output: String
    package var errors: String

    /// The first line of what it said on stderr, or its exit status.
    package var errorSummary: String {
        errors.split(separator: "\n").first.map(String.init) ?? "exit status \(status)"
    }

    /// nil when the program cannot be started or does not finish within `seconds`.
    package static func run(_ program: String, _ arguments: [String], seconds: Double = 5) -> HostCommand? {
        guard FileManager.default.isExecutableFile(atPath: program) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"  // the tools' words, not a translation of them, are parsed
        process.environment = environment
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do { try process.run() } catch { return nil }
        // Read after it ends: these tools print a few KiB, well within a pipe's buffer.
        guard finished.wait(timeout: .now() + seconds) == .success else {
            process.terminate()
            return nil
        }
        return HostCommand(
            status: process.terminationStatus,
            output: String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            errors: String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }
}
