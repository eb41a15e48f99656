/// Draws a QR code as terminal text. Scanners need dark modules on a light ground with a light
/// quiet zone around the code.
package enum QRRenderer {
    package enum Style: String, Sendable, CaseIterable {
        /// Unicode half blocks, two module rows per line, for the usual light-on-dark terminal:
        /// light modules are drawn, dark ones left as the terminal's dark background.
        case utf8
        /// ANSI background colours, two columns per module, black on white whatever the theme.
        case ansi
        /// ANSI with the colours swapped, for terminals that remap white and black badly.
        case ansiInverse = "ansi-inverse"
    }

    /// Light modules around the code; the standard asks for 4, scanners manage with 2.
    package static let quietZone = 2

    /// Terminal columns the rendering takes.
    package static func width(of code: QRCode, style: Style) -> Int {
        let modules = code.size + 2 * quietZone
        return style == .utf8 ? modules : 2 * modules
    }

    package static func render(_ code: QRCode, style: Style) -> String {
        let span = -quietZone..<(code.size + quietZone)
        func light(_ row: Int, _ column: Int) -> Bool {
            // Below the last quiet-zone row (the half-block pairing may need one) is terminal.
            row < code.size + quietZone && !code.isDark(row: row, column: column)
        }
        var lines: [String] = []
        switch style {
        case .utf8:
            for row in stride(from: span.lowerBound, to: span.upperBound, by: 2) {
                lines.append(String(span.map { column -> Character in
                    switch (light(row, column), light(row + 1, column)) {
                    case (true, true): "█"
                    case (true, false): "▀"
                    case (false, true): "▄"
                    case (false, false): " "
                    }
                }))
            }
        case .ansi, .ansiInverse:
            let (white, black) = ("\u{1B}[47m  ", "\u{1B}[40m  ")
            for row in span {
                let cells = span.map { column in (light(row, column) != (style == .ansiInverse)) ? white : black }
                lines.append(cells.joined() + "\u{1B}[0m")
            }
        }
        return lines.joined(separator: "\n")
    }
}
