import NIOCore

/// One frame body: version, an operation (request) or result (response) code, and fields.
package struct WireMessage: Sendable, Equatable {
    package var code: UInt8
    package var fields: [WireField]

    package init(code: UInt8, fields: [WireField] = []) {
        self.code = code
        self.fields = fields
    }

    package struct DecodingError: Error, Equatable, CustomStringConvertible {
        package let description: String
        /// Set when the version byte was wrong, which has a result code of its own.
        package var unsupportedVersion = false
    }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(WireProtocol.version)
        buffer.writeInteger(code)
        WireField.encode(fields, into: &buffer)
    }

    package static func decode(_ buffer: ByteBuffer) throws(DecodingError) -> WireMessage {
        var buffer = buffer
        guard let version = buffer.readInteger(as: UInt8.self), let code = buffer.readInteger(as: UInt8.self)
        else { throw DecodingError(description: "frame body is shorter than 2 bytes") }
        guard version == WireProtocol.version else {
            throw DecodingError(
                description: "protocol version \(version) is not supported (expected \(WireProtocol.version))",
                unsupportedVersion: true)
        }
        return WireMessage(code: code, fields: try WireField.decodeAll(&buffer))
    }

    package func first(_ tag: FieldTag) -> WireField? { fields.first { $0.tag == tag.rawValue } }
}

/// A tag-length-value field. The value is kept as bytes; typed accessors interpret it.
package struct WireField: Sendable, Equatable {
    package var tag: UInt8
    package var value: [UInt8]

    package init(tag: UInt8, value: [UInt8]) {
        self.tag = tag
        self.value = value
    }

    package static func string(_ tag: FieldTag, _ text: String) -> WireField {
        WireField(tag: tag.rawValue, value: Array(text.utf8.prefix(tag.maxLength)))
    }

    package static func u64(_ tag: FieldTag, _ number: UInt64) -> WireField {
        WireField(tag: tag.rawValue, value: (0..<8).map { UInt8(truncatingIfNeeded: number >> (56 - 8 * UInt64($0))) })
    }

    package static func record(_ fields: [WireField]) -> WireField {
        var buffer = ByteBuffer()
        encode(fields, into: &buffer)
        return WireField(tag: FieldTag.record.rawValue, value: Array(buffer.readableBytesView))
    }

    package var stringValue: String? { String(validating: value, as: UTF8.self) }

    package var u64Value: UInt64? {
        guard value.count == 8 else { return nil }
        return value.reduce(0) { ($0 << 8) | UInt64($1) }
    }

    package var recordFields: [WireField]? {
        var buffer = ByteBuffer(bytes: value)
        return try? Self.decodeAll(&buffer)
    }

    static func encode(_ fields: [WireField], into buffer: inout ByteBuffer) {
        for field in fields {
            buffer.writeInteger(field.tag)
            buffer.writeInteger(UInt16(field.value.count))
            buffer.writeBytes(field.value)
        }
    }

    static func decodeAll(_ buffer: inout ByteBuffer) throws(WireMessage.DecodingError) -> [WireField] {
        var fields: [WireField] = []
        while buffer.readableBytes > 0 {
            guard let tag = buffer.readInteger(as: UInt8.self), let length = buffer.readInteger(as: UInt16.self)
            else { throw WireMessage.DecodingError(description: "field header is truncated") }
            guard let value = buffer.readBytes(length: Int(length)) else {
                throw WireMessage.DecodingError(description: "field \(tag) runs past the end of the frame")
            }
            fields.append(WireField(tag: tag, value: value))
        }
        return fields
    }
}
