import NIOCore

/// Splits the stream into length-prefixed frame bodies. NIOExtras' LengthFieldBasedFrameDecoder
/// accepts lengths up to 2 GiB; this one refuses anything over `maxBodyLength` as soon as the
/// length field arrives, before buffering the body.
package struct FrameDecoder: ByteToMessageDecoder {
    package typealias InboundOut = ByteBuffer

    package struct FrameError: Error, CustomStringConvertible {
        package let description: String
    }

    let maxBodyLength: Int

    package init(maxBodyLength: Int) {
        self.maxBodyLength = maxBodyLength
    }

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length > 0 else { throw FrameError(description: "frame has an empty body") }
        guard length <= maxBodyLength else {
            throw FrameError(description: "frame body of \(length) bytes exceeds the limit of \(maxBodyLength)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }

    package mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 { throw FrameError(description: "connection closed inside a frame") }
        return .needMoreData
    }
}
