// The least a SwiftNIO server does for one request over a new connection, beside
// floor_server.c (the same work in C): one event loop owning the listener and its connections,
// SO_PEERCRED, the length-prefixed frame read, the "unsupported version" answer, the close.
// The difference between the two is the framework's share of a connection on this machine.
//
// usage: bench-nio-floor SOCKET
import CTOTPSystem
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

final class AnswerOnce: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var pending: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        pending.setOrWriteBuffer(&bytes)
        guard let frame = pending, let length = frame.getInteger(at: frame.readerIndex, as: UInt32.self),
            frame.readableBytes >= 4 + Int(length)
        else { return }
        var answer = context.channel.allocator.buffer(capacity: 6)
        answer.writeBytes([0, 0, 0, 2, 1, 6])
        let channel = context.channel
        context.writeAndFlush(NIOAny(answer)).whenComplete { _ in channel.close(promise: nil) }
    }
}

let path = CommandLine.arguments.count == 2 ? CommandLine.arguments[1] : ""
guard !path.isEmpty else {
    print("usage: bench-nio-floor SOCKET")
    exit(2)
}
unlink(path)
let loop = MultiThreadedEventLoopGroup.singleton.next()
let listener = try ServerBootstrap(group: loop, childGroup: loop)
    .serverChannelOption(.backlog, value: 256)
    .childChannelInitializer { channel in
        let provider = channel as! SocketOptionProvider
        let credential: EventLoopFuture<totpd_peer_credentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return credential.flatMapThrowing { _ in try channel.pipeline.syncOperations.addHandler(AnswerOnce()) }
    }
    .bind(unixDomainSocketPath: path).wait()
chmod(path, 0o600)
try listener.closeFuture.wait()
