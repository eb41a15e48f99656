import NIOCore
import NIOEmbedded
import TOTPCore

/// What each target feeds its input to, and what must hold afterwards beyond "no crash".
enum FuzzTarget: String, CaseIterable {
    /// A connection's byte stream through the server's frame decoder, delivered in pieces (the
    /// first byte picks their size), then each frame through the request parser.
    case frames
    /// One frame body through the message and request parsers.
    case request
    /// A configuration file through the loader.
    case configuration

    func run(_ input: UnsafeRawBufferPointer) {
        switch self {
        case .frames: Self.decodeStream(input)
        case .request: Self.parse(ByteBuffer(bytes: input))
        case .configuration: Self.load(input)
        }
    }

    private static func decodeStream(_ input: UnsafeRawBufferPointer) {
        guard let first = input.first else { return }
        let pieceSize = Int(first % 16) + 1
        let stream = input.dropFirst()
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(FrameDecoder(maxBodyLength: WireProtocol.maxRequestBody)))
        var decoded: [UInt8] = []
        var offset = stream.startIndex
        do {
            while offset < stream.endIndex {
                let end = min(offset + pieceSize, stream.endIndex)
                try channel.writeInbound(ByteBuffer(bytes: input[offset..<end]))
                offset = end
                while let frame = try channel.readInbound(as: ByteBuffer.self) {
                    precondition((1...WireProtocol.maxRequestBody).contains(frame.readableBytes), "frame of a refused length")
                    decoded += withUnsafeBytes(of: UInt32(frame.readableBytes).bigEndian, Array.init)
                    decoded += frame.readableBytesView
                    parse(frame)
                }
            }
        } catch {
            // A refused stream ends the connection; what was decoded before it still holds.
        }
        // As the server's connection does after an error or the end of the stream.
        _ = try? channel.finish(acceptAlreadyClosed: true)
        // Frames are the stream cut at its length fields: nothing added, dropped or reordered.
        precondition(decoded.elementsEqual(stream.prefix(decoded.count)), "frames differ from the stream")
    }

    private static func parse(_ body: ByteBuffer) {
        guard let message = try? WireMessage.decode(body) else { return }
        var encoded = ByteBuffer()
        message.encode(into: &encoded)
        precondition(encoded == body, "a decoded message encodes to other bytes")
        _ = try? Request(decoding: message)
    }

    private static func load(_ input: UnsafeRawBufferPointer) {
        guard let contents = String(validating: input, as: UTF8.self) else { return }
        guard let configuration = try? ConfigurationFile.load(path: "/fuzz/totpd.conf", contents: contents) else { return }
        precondition((0...3).contains(configuration.window), "window out of range")
        precondition(configuration.socketPath.hasPrefix("/"), "relative socket path")
    }
}
