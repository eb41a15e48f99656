import CQRencode

#if canImport(Glibc)
import Glibc
#endif

/// A QR code's module matrix, encoded by libqrencode. Rendered locally: the secret in the URI
/// never goes to any web service.
package struct QRCode: Sendable, Equatable {
    package struct EncodingError: Error, CustomStringConvertible {
        package let description: String
    }

    /// Modules per side.
    package let size: Int
    private let dark: [Bool]

    package init(encoding text: String) throws(EncodingError) {
        // 8-bit mode keeps the URI byte for byte (kanji or alphanumeric modes could alter it);
        // level M survives a smudged or partly reflecting screen.
        guard let code = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M) else {
            throw EncodingError(description: "libqrencode cannot encode the text: \(String(cString: strerror(errno)))")
        }
        defer { QRcode_free(code) }
        size = Int(code.pointee.width)
        dark = (0..<size * size).map { code.pointee.data[$0] & 1 == 1 }
    }

    /// Outside the matrix is the light quiet zone.
    package func isDark(row: Int, column: Int) -> Bool {
        guard (0..<size).contains(row), (0..<size).contains(column) else { return false }
        return dark[row * size + column]
    }
}
