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
    /// An accepted connection: the channel, who is calling, and its request frame to come.
    struct Connection: Sendable {
        let channel: Channel
        let caller: PeerCredentials
        let request: EventLoopFuture<ByteBuffer>
    }

    /// Where connections come from: a path the daemon binds, or a socket systemd passed.
    package enum Listener: Sendable {
        case path(String)
        case inherited(CInt)
    }

    /// Who may connect to a listening socket. Root's own socket (0600) keeps the login stack's
    /// connections out of the queue that every local user can fill.
    package enum Audience: String, Sendable {
        case everyone
        case root
    }

    let listeners: [(Listener, Audience)]
    let handler: RequestHandler
    let logger: Logger
    /// A client must deliver its whole request within this time.
    let requestDeadline: TimeAmount
    let limiter: ConnectionLimiter
    let logLimiter: LogLimiter
    let clock: any WallClock

    init(
        listeners: [(Listener, Audience)], handler: RequestHandler, logger: Logger, requestDeadline: TimeAmount,
        limiter: ConnectionLimiter, logLimiter: LogLimiter, clock: any WallClock
    ) {
        self.listeners = listeners
        self.handler = handler
        self.logger = logger
        self.requestDeadline = requestDeadline
        self.limiter = limiter
        self.logLimiter = logLimiter
        self.clock = clock
    }

    package func run() async throws {
        var bound: [NIOAsyncChannel<Connection, Never>] = []
        defer {
            // Only what this daemon bound: a failed bind must not remove another daemon's socket.
            for case (.path(let socketPath), _) in listeners.prefix(bound.count) { unlink(socketPath) }
        }
        for (listener, audience) in listeners {
            bound.append(try await bind(listener, for: audience))
        }
        SystemdIntegration.notify("READY=1")
        try await withThrowingDiscardingTaskGroup { group in
            for listening in bound { group.addTask { try await accept(from: listening) } }
        }
        logger.notice("stopped")
    }

    private func bind(_ listener: Listener, for audience: Audience) async throws -> NIOAsyncChannel<Connection, Never> {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
        let initializer: @Sendable (Channel) -> EventLoopFuture<Connection> = { channel in
            PeerCredentials.of(channel).flatMapThrowing { caller in
                let request = channel.eventLoop.makePromise(of: ByteBuffer.self)
                let pipeline = channel.pipeline.syncOperations
                try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maxBodyLength: WireProtocol.maxRequestBody)))
                try pipeline.addHandler(LengthFieldPrepender(lengthFieldBitLength: .fourBytes))
                try pipeline.addHandler(RequestFrameHandler(promise: request))
                return Connection(channel: channel, caller: caller, request: request.futureResult)
            }
        }
        switch listener {
        case .path(let socketPath):
            try SocketPath.prepareForBind(socketPath)
            let listening = try await bootstrap.bind(unixDomainSocketPath: socketPath, childChannelInitializer: initializer)
            // The public socket takes every local user (authorization happens per request);
            // root's takes root alone.
            chmod(socketPath, audience == .root ? 0o600 : 0o666)
            logger.notice("listening", metadata: ["socket": "\(socketPath)", "for": "\(audience.rawValue)"])
            return listening
        case .inherited(let descriptor):
            let listening = try await bootstrap.bind(descriptor, childChannelInitializer: initializer)
            logger.notice("listening on the socket systemd passed", metadata: ["for": "\(audience.rawValue)"])
            return listening
        }
    }

    private func accept(from listener: NIOAsyncChannel<Connection, Never>) async throws {
        try await withGracefulShutdownHandler {
            try await listener.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask { await serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            // Stop accepting; connections already accepted are answered before run() returns.
            SystemdIntegration.notify("STOPPING=1")
            listener.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: Connection) async {
        let (channel, caller) = (connection.channel, connection.caller)
        guard limiter.admit(caller.uid) else {
            logLimiter.log(
                .warning, "connection refused: too many", uid: caller.uid,
                metadata: ["caller_uid": "\(caller.uid)", "caller_pid": "\(caller.pid)"], now: clock.unixTime())
            await reply(.failure(.denied, "too many connections from uid \(caller.uid)"), on: channel)
            return
        }
        defer { limiter.release(caller.uid) }
        let deadline = channel.eventLoop.scheduleTask(in: requestDeadline) { channel.close(promise: nil) }
        let response: Response
        do {
            let frame = try await connection.request.get()
            deadline.cancel()
            response = await respond(to: frame, caller: caller)
        } catch let error as FrameDecoder.FrameError {
            deadline.cancel()
            logLimiter.log(
                .notice, "malformed frame", uid: caller.uid, metadata: ["caller_uid": "\(caller.uid)", "error": "\(error)"],
                now: clock.unixTime())
            response = .failure(.badRequest, error.description)
        } catch {
            logger.debug("connection ended without a request", metadata: ["caller_uid": "\(caller.uid)", "error": "\(error)"])
            channel.close(promise: nil)
            return
        }
        await reply(response, on: channel)
    }

    /// Writes the response, waits until it is handed to the kernel, then closes.
    private func reply(_ response: Response, on channel: Channel) async {
        var buffer = channel.allocator.buffer(capacity: 256)
        response.message.encode(into: &buffer)
        do {
            try await channel.writeAndFlush(buffer)
        } catch {
            logger.debug("response not delivered", metadata: ["error": "\(error)"])
        }
        try? await channel.close()
    }

    private func respond(to frame: ByteBuffer, caller: PeerCredentials) async -> Response {
        let request: Request
        do {
            request = try Request(decoding: try WireMessage.decode(frame))
        } catch {
            logLimiter.log(
                .notice, "malformed request", uid: caller.uid, metadata: ["caller_uid": "\(caller.uid)", "error": "\(error)"],
                now: clock.unixTime())
            return .failure(error.unsupportedVersion ? .unsupportedVersion : .badRequest, error.description)
        }
        return await handler.handle(request, caller: caller)
    }
}
