/// A configuration problem, located for the person fixing it: file, line, key.
package struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    package var file: String
    package var line: Int?
    package var key: String?
    package var problem: String

    package init(file: String, line: Int? = nil, key: String? = nil, problem: String) {
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
    }

    package var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return key.map { "\(location): \($0): \(problem)" } ?? "\(location): \(problem)"
    }
}
