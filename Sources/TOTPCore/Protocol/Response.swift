/// A response: a result code and the fields that go with it.
package struct Response: Sendable, Equatable {
    package var result: ResultCode
    package var fields: [WireField]

    package init(_ result: ResultCode, _ fields: [WireField] = []) {
        self.result = result
        self.fields = fields
    }

    package static func failure(_ result: ResultCode, _ explanation: String) -> Response {
        Response(result, [.string(.message, explanation)])
    }

    package var message: WireMessage { WireMessage(code: result.rawValue, fields: fields) }

    package var explanation: String? { string(.message) }
    package var recoveryCodes: [String] { fields.filter { $0.tag == FieldTag.recoveryCode.rawValue }.compactMap(\.stringValue) }

    package func string(_ tag: FieldTag) -> String? { fields.first { $0.tag == tag.rawValue }?.stringValue }
    package func u64(_ tag: FieldTag) -> UInt64? { fields.first { $0.tag == tag.rawValue }?.u64Value }

    /// Interprets a received frame body. An unknown result code is an error: the client cannot
    /// know what it means.
    package init(decoding message: WireMessage) throws(WireMessage.DecodingError) {
        guard let result = ResultCode(rawValue: message.code) else {
            throw WireMessage.DecodingError(description: "unknown result code \(message.code)")
        }
        self.init(result, message.fields)
    }
}
