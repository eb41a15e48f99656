import Logging
import NIOCore

/// One connection, one request: admits the caller, waits (within the deadline) for its frame,
/// runs the request in a task on the connection's own event loop (`EventLoopExecutor`) and
/// writes the answer, then closes.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let caller: PeerCredentials
    private let server: Server
    private var admitted = false
    private var answered = false
    private var deadline: Scheduled<Void>?

    init(caller: PeerCredentials, server: Server) {
        self.caller = caller
        self.server = server
    }

    func channelActive(context: ChannelHandlerContext) {
        server.inFlight.enter()
        guard server.limiter.admit(caller.uid) else {
            server.logLimiter.log(
                .warning, "connection refused: too many", uid: caller.uid,
                metadata: ["caller_uid": "\(caller.uid)", "caller_pid": "\(caller.pid)"], now: server.clock.unixTime())
            answer(.failure(.denied, "too many connections from uid \(caller.uid)"), context: context)
            context.fireChannelActive()
            return
        }
        admitted = true
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: server.requestDeadline) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // One request per connection: anything after the first frame is ignored.
        guard admitted, !answered else { return }
        answered = true
        deadline?.cancel()
        let frame = unwrapInboundIn(data)
        let server = server
        let caller = caller
        let channel = context.channel
        Task(executorPreference: EventLoopExecutor(context.eventLoop)) {
            let response = await server.respond(to: frame, caller: caller)
            server.send(response, on: channel)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard admitted, !answered, let error = error as? FrameDecoder.FrameError else {
            context.close(promise: nil)
            return
        }
        deadline?.cancel()
        server.logLimiter.log(
            .notice, "malformed frame", uid: caller.uid, metadata: ["caller_uid": "\(caller.uid)", "error": "\(error)"],
            now: server.clock.unixTime())
        answer(.failure(.badRequest, error.description), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if !answered { server.logger.debug("connection ended without a request", metadata: ["caller_uid": "\(caller.uid)"]) }
        if admitted { server.limiter.release(caller.uid) }
        server.inFlight.leave()
        context.fireChannelInactive()
    }

    private func answer(_ response: Response, context: ChannelHandlerContext) {
        answered = true
        server.send(response, on: context.channel)
    }
}

extension Server {
    /// The length-prefixed answer in one buffer, then the close once it is handed to the kernel.
    func send(_ response: Response, on channel: Channel) {
        var buffer = channel.allocator.buffer(capacity: 256)
        buffer.writeInteger(UInt32(0))
        response.message.encode(into: &buffer)
        buffer.setInteger(UInt32(buffer.readableBytes - 4), at: buffer.readerIndex)
        channel.writeAndFlush(buffer).whenComplete { [logger] result in
            if case .failure(let error) = result {
                logger.debug("response not delivered", metadata: ["error": "\(error)"])
            }
            channel.close(promise: nil)
        }
    }
}
