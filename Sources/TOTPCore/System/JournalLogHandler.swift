import Logging

#if canImport(Glibc)
import Glibc
#endif

/// One line per event on stderr: `<priority>message key=value ...` when stderr goes to the
/// journal (journald reads the sd-daemon priority prefix), the same without the prefix otherwise.
/// Values are written as `QuotedText` makes them, so no value, however hostile, can end its
/// pair early or add a line or a `key=value` of its own.
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
        let line = format(level: event.level, message: event.message, metadata: metadata.merging(event.metadata ?? [:]) { $1 })
        // One write(2) per line, so lines from concurrent requests never interleave.
        _ = Array(line.utf8).withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    func format(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata) -> String {
        var line = withPriorityPrefix ? "<\(Self.priority(level))>" : "\(level) "
        line += Self.clean(message.description)
        for key in metadata.keys.sorted() {
            line += " \(Self.clean(key))=\(QuotedText.quoted("\(metadata[key]!)"))"
        }
        return line + "\n"
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
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        return String(text.unicodeScalars.map { QuotedText.isUnprintable($0) ? "?" : Character($0) })
    }
}
