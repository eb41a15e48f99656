/// A configuration problem, located for the person fixing it: file, line, key.
package struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    package var file: String
    package var line: Int?
    package var key: String?
    package var problem: String
    package var remedy: Remedy?

    package init(file: String, line: Int? = nil, key: String? = nil, problem: String, remedy: Remedy? = nil) {
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
        self.remedy = remedy
    }

    package var location: String { line.map { "\(file):\($0)" } ?? file }

    /// The problem and its remedy without the location, for a report that shows that apart.
    package var explanation: String {
        let text = problem + (remedy.map { $0.lead + $0.command } ?? "")
        return key.map { "\($0): \(text)" } ?? text
    }

    package var description: String { "\(location): \(explanation)" }
}
