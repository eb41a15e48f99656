import NIOCore
import NIOExtras
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Sends one request to the daemon and returns its response; used by totpctl and the tests.
package struct DaemonClient: Sendable {
    package struct ClientError: Error, CustomStringConvertible {
        package let description: String
    }

    package let socketPath: String
    package var timeout: TimeAmount

    package init(socketPath: String, timeout: TimeAmount = .seconds(10)) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    package func send(_ request: Request) async throws -> Response {
        try Response(decoding: try await exchange(request.message))
    }

    /// Sends any message, well-formed or not; tests use it to probe the daemon's input checks.
    package func exchange(_ message: WireMessage) async throws -> WireMessage {
        var body = ByteBuffer()
        message.encode(into: &body)
        let frame = try await exchange(rawFrame: body, prefixLength: true)
        return try WireMessage.decode(frame)
    }

    package func exchange(rawFrame: ByteBuffer, prefixLength: Bool) async throws -> ByteBuffer {
        let connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(timeout)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(
                            ByteToMessageHandler(FrameDecoder(maxBodyLength: WireProtocol.maxResponseBody)))
                        if prefixLength { try pipeline.addHandler(LengthFieldPrepender(lengthFieldBitLength: .fourBytes)) }
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch let error as IOError {
            throw ClientError(description: "cannot connect to totpd at \(socketPath): \(String(cString: strerror(error.errnoCode)))")
        } catch {
            throw ClientError(description: "cannot connect to totpd at \(socketPath): \(error)")
        }
        let channel = connection.channel
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        return try await connection.executeThenClose { inbound, outbound in
            try await outbound.write(rawFrame)
            for try await frame in inbound { return frame }
            throw ClientError(description: "totpd closed the connection without answering (timeout or refused)")
        }
    }
}
