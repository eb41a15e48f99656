import NIOCore

/// Hands the connection's one request frame to the task serving it. Using a promise rather than
/// an NIOAsyncChannel per connection means a connection accepted while the server shuts down can
/// simply be dropped: NIOAsyncChannel traps when it is deallocated unused (apple/swift-nio#3481).
final class RequestFrameHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<ByteBuffer>
    private var completed = false

    init(promise: EventLoopPromise<ByteBuffer>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // One request per connection: anything after the first frame is ignored.
        complete { $0.succeed(unwrapInboundIn(data)) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        complete { $0.fail(error) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete { $0.fail(ChannelError.eof) }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        complete { $0.fail(ChannelError.ioOnClosedChannel) }
    }

    private func complete(_ body: (EventLoopPromise<ByteBuffer>) -> Void) {
        guard !completed else { return }
        completed = true
        body(promise)
    }
}
