import Logging

#if canImport(Glibc)
import Glibc
#endif

/// One line per event on stderr: `<priority>message key=value ...` when stderr goes to the
/// journal (journald reads the sd-daemon priority prefix), the same without the prefix otherwise.
/// Values are quoted when they contain spaces, and control characters never reach the output.
package struct JournalLogHandler: LogHandler {
    package var logLevel: Logger.Level
    package var metadata: Logger.Metadata = [:]
    private let withPriorityPrefix: Bool

    package init(logLevel: Logger.Level, withPriorityPrefix: Bool) {
        self.logLevel = logLevel
        self.withPriorityPrefix = withPriorityPrefix
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        var line = withPriorityPrefix ? "<\(Self.priority(event.level))>" : "\(event.level) "
        line += Self.clean(event.message.description)
        for key in merged.keys.sorted() {
            line += " \(key)=\(Self.quoted(Self.clean("\(merged[key]!)")))"
        }
        line += "\n"
        // One write(2) per line, so lines from concurrent requests never interleave.
        _ = Array(line.utf8).withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// sd-daemon(3) priorities.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func clean(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) })
    }

    static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
