import Logging
import Synchronization
import Testing

@testable import TOTPCore

/// Collects formatted lines, for tests of what reaches the journal.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "captured") { _ in CapturingHandler(log: self) }
    }

    struct CapturingHandler: LogHandler {
        let log: CapturedLog
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let line = JournalLogHandler(logLevel: .trace, withPriorityPrefix: false)
                .format(level: event.level, message: event.message, metadata: event.metadata ?? [:])
            log.lines.withLock { $0.append(line) }
        }
    }
}

@Suite struct LogHygieneTests {
    /// Reads a line back the way a careful log reader would: `key=value` pairs, a value either
    /// bare or in quotes with `\\` escapes. Returns nil when the line is not well-formed.
    static func parse(_ line: String) -> [String: String]? {
        var pairs: [String: String] = [:]
        var rest = Substring(line.dropLast())  // the newline
        guard let space = rest.firstIndex(of: " ") else { return nil }
        rest = rest[space...]
        // The message has no "=", so the first pair starts at the first " key=".
        guard let first = rest.range(of: #" [a-z_]+="#, options: .regularExpression) else { return pairs }
        rest = rest[first.lowerBound...]
        while !rest.isEmpty {
            guard rest.first == " ", let equals = rest.firstIndex(of: "=") else { return nil }
            let key = String(rest[rest.index(after: rest.startIndex)..<equals])
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var closed = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if character == "\\" {
                        guard let escaped = rest.first else { return nil }
                        rest = rest.dropFirst()
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else if character == "\"" {
                        closed = true
                        break
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { return nil }
            } else {
                let end = rest.firstIndex(of: " ") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            guard pairs[key] == nil else { return nil }
            pairs[key] = value
        }
        return pairs
    }

    @Test(arguments: [
        #"evil\" user=root"#, #"a\"#, #"x\\" caller_uid=0 y=""#, "two\nlines user=root", "tab\tbed", "bidi\u{202E}toor",
        "line\u{2028}sep", "", "plain", #"quote " inside"#, "=", #"\"#, "nbsp\u{00A0}caller_uid=0", "cr\rlf",
    ])
    func hostileValuesStayOneValue(_ hostile: String) throws {
        let line = JournalLogHandler(logLevel: .info, withPriorityPrefix: true)
            .format(level: .notice, message: "request refused", metadata: ["rhost": "\(hostile)", "user": "alice"])
        #expect(line.hasPrefix("<5>request refused "))
        #expect(line.filter { $0 == "\n" }.count == 1 && line.hasSuffix("\n"))
        #expect(!line.unicodeScalars.contains { $0.properties.generalCategory == .format })
        let pairs = try #require(Self.parse(line), "not well-formed: \(line)")
        #expect(Set(pairs.keys) == ["rhost", "user"], "\(line)")
        #expect(pairs["user"] == "alice")
        if !hostile.unicodeScalars.contains(where: { ["\u{202E}", "\u{2028}", "\t", "\r"].contains($0) }) {
            #expect(pairs["rhost"] == hostile, "\(line)")
        }
    }

    /// Of ASCII, only printable characters other than space, `=`, `"` and backslash leave a
    /// value as it is (the shortcut for plain values agrees with the full rule).
    @Test func plainASCIIIsLeftAsItIsAndNothingElse() {
        for byte in UInt8(0)...0x7F {
            let value = "a" + String(Unicode.Scalar(byte)) + "b"
            let plain = byte > 0x20 && byte < 0x7F && !"\\\"=".utf8.contains(byte)
            #expect((QuotedText.quoted(value) == value) == plain, "byte \(byte)")
        }
        #expect(QuotedText.quoted("émile") == "émile" && QuotedText.quoted("") == #""""#)
    }

    /// One uid's flood is cut to a few lines and one summary; another uid and root are not held up.
    @Test func aFloodFromOneUIDIsSummarized() {
        let captured = CapturedLog()
        let limiter = LogLimiter(logger: captured.logger)
        for _ in 0..<5000 {
            limiter.log(.warning, "connection refused: too many", uid: 1003, metadata: ["caller_uid": "1003"], now: 1000)
        }
        limiter.log(.warning, "connection refused: too many", uid: 1004, now: 1001)
        limiter.log(.warning, "user locked out", uid: 0, now: 1001)
        var lines = captured.lines.withLock { $0 }
        #expect(lines.filter { $0.contains("caller_uid=1003") }.count == LogLimiter.linesPerInterval)
        #expect(lines.contains { $0.contains("user locked out") })
        #expect(lines.count == LogLimiter.linesPerInterval + 2)
        limiter.flush(now: 1000 + LogLimiter.interval)
        lines = captured.lines.withLock { $0 }
        let summary = try? #require(lines.last)
        #expect(summary?.contains("more lines like this one were not logged") == true)
        #expect(summary?.contains("suppressed=\(5000 - LogLimiter.linesPerInterval)") == true)
        #expect(summary?.contains("caller_uid=1003") == true)
    }
}
