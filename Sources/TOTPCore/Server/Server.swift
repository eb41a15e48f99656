import Logging
import NIOCore
import NIOExtras
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The socket server: one request per connection, each connection served in its own task that
/// catches its own errors, so one bad client never affects another.
package struct Server: Service {
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    let socketPath: String
    let handler: RequestHandler
    let logger: Logger
    /// A client must deliver its whole request within this time.
    let requestDeadline: TimeAmount

    init(socketPath: String, handler: RequestHandler, logger: Logger, requestDeadline: TimeAmount) {
        self.socketPath = socketPath
        self.handler = handler
        self.logger = logger
        self.requestDeadline = requestDeadline
    }

    package func run() async throws {
        try SocketPath.prepareForBind(socketPath)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .bind(unixDomainSocketPath: socketPath) { channel in
                PeerCredentials.of(channel).flatMapThrowing { caller in
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maxBodyLength: WireProtocol.maxRequestBody)))
                    try pipeline.addHandler(LengthFieldPrepender(lengthFieldBitLength: .fourBytes))
                    return (try Connection(wrappingChannelSynchronously: channel), caller)
                }
            }
        // Every local user must be able to connect; authorization happens per request.
        chmod(socketPath, 0o666)
        logger.notice("listening", metadata: ["socket": "\(socketPath)"])
        defer { unlink(socketPath) }
        try await withGracefulShutdownHandler {
            try await listener.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await (connection, caller) in connections {
                        group.addTask { await serve(connection, caller: caller) }
                    }
                }
            }
        } onGracefulShutdown: {
            // Stop accepting; connections already accepted are answered before run() returns.
            listener.channel.close(promise: nil)
        }
        logger.notice("stopped")
    }

    private func serve(_ connection: Connection, caller: PeerCredentials) async {
        let channel = connection.channel
        let deadline = channel.eventLoop.scheduleTask(in: requestDeadline) { channel.close(promise: nil) }
        do {
            try await connection.executeThenClose { inbound, outbound in
                let response: Response
                do {
                    var frames = inbound.makeAsyncIterator()
                    guard let frame = try await frames.next() else { return }
                    deadline.cancel()
                    response = await respond(to: frame, caller: caller)
                } catch let error as FrameDecoder.FrameError {
                    deadline.cancel()
                    logger.notice("malformed frame", metadata: ["caller_uid": "\(caller.uid)", "error": "\(error)"])
                    response = .failure(.badRequest, error.description)
                }
                var buffer = channel.allocator.buffer(capacity: 256)
                response.message.encode(into: &buffer)
                try await outbound.write(buffer)
            }
        } catch {
            logger.debug("connection ended early", metadata: ["caller_uid": "\(caller.uid)", "error": "\(error)"])
        }
    }

    private func respond(to frame: ByteBuffer, caller: PeerCredentials) async -> Response {
        let request: Request
        do {
            request = try Request(decoding: try WireMessage.decode(frame))
        } catch {
            logger.notice("malformed request", metadata: ["caller_uid": "\(caller.uid)", "error": "\(error)"])
            return .failure(error.unsupportedVersion ? .unsupportedVersion : .badRequest, error.description)
        }
        return await handler.handle(request, caller: caller)
    }
}
