import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The socket server: one request per connection (`ConnectionHandler`), each request served in
/// its own task that catches its own errors, so one bad client never affects another.
package struct Server: Service {
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
    let inFlight = InFlight()
    /// Held while the server exists: no second daemon serves the same store.
    let instanceLock: InstanceLock

    init(
        listeners: [(Listener, Audience)], handler: RequestHandler, logger: Logger, requestDeadline: TimeAmount,
        limiter: ConnectionLimiter, logLimiter: LogLimiter, clock: any WallClock, instanceLock: InstanceLock
    ) {
        self.listeners = listeners
        self.handler = handler
        self.logger = logger
        self.requestDeadline = requestDeadline
        self.limiter = limiter
        self.logLimiter = logLimiter
        self.clock = clock
        self.instanceLock = instanceLock
    }

    package func run() async throws {
        var bound: [Channel] = []
        var created: [(String, SocketPath.Identity)] = []
        defer {
            // Only what this daemon bound, and only while the path is still that socket: a failed
            // bind must not remove another daemon's socket, nor must the exit of one that drains.
            for (socketPath, identity) in created { SocketPath.remove(socketPath, ifStill: identity) }
        }
        do {
            let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
            for (index, (listener, audience)) in listeners.enumerated() {
                bound.append(try await bind(listener, for: audience, on: loops[index % loops.count]))
                if case .path(let socketPath) = listener, let identity = SocketPath.identity(socketPath) {
                    created.append((socketPath, identity))
                }
            }
        } catch {
            for channel in bound { try? await channel.close() }
            throw error
        }
        SystemdIntegration.notify("READY=1")
        let listening = bound
        await withGracefulShutdownHandler {
            for channel in listening { try? await channel.closeFuture.get() }
        } onGracefulShutdown: {
            // Stop accepting; connections already accepted are answered before run() returns.
            SystemdIntegration.notify("STOPPING=1")
            for channel in listening { channel.close(promise: nil) }
        }
        await inFlight.drained()
        logger.notice("stopped")
    }

    /// A listener and all its connections live on one event loop: an accepted connection handed
    /// to another loop costs three cross-thread wake-ups before its first read, and root's loop
    /// stays free when the public socket is flooded.
    private func bind(_ listener: Listener, for audience: Audience, on loop: any EventLoop) async throws -> Channel {
        let bootstrap = ServerBootstrap(group: loop, childGroup: loop)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { [self] channel in
                PeerCredentials.of(channel).flatMapThrowing { caller in
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maxBodyLength: WireProtocol.maxRequestBody)))
                    try pipeline.addHandler(ConnectionHandler(caller: caller, server: self))
                }
            }
        switch listener {
        case .path(let socketPath):
            try SocketPath.prepareForBind(socketPath)
            let listening = try await bootstrap.bind(unixDomainSocketPath: socketPath).get()
            // The public socket takes every local user (authorization happens per request);
            // root's takes root alone.
            chmod(socketPath, audience == .root ? 0o600 : 0o666)
            logger.notice("listening", metadata: ["socket": "\(socketPath)", "for": "\(audience.rawValue)"])
            return listening
        case .inherited(let descriptor):
            let listening = try await bootstrap.withBoundSocket(descriptor).get()
            logger.notice("listening on the socket systemd passed", metadata: ["for": "\(audience.rawValue)"])
            return listening
        }
    }

    func respond(to frame: ByteBuffer, caller: PeerCredentials) async -> Response {
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
