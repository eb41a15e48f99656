import NIOCore
import NIOExtras
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Sends one request to the daemon and returns its response; used by totpctl and the tests.
/// Like the PAM module, it talks only to a socket owned by the daemon's uid (root) whose peer,
/// as the kernel reports it, is that uid: codes typed to totpctl never reach a user's socket.
package struct DaemonClient: Sendable {
    package struct ClientError: Error, CustomStringConvertible {
        package let description: String
    }

    package let socketPath: String
    package var timeout: TimeAmount
    /// The uid the daemon must run as: root, except for a test daemon run by its own tests.
    package var serverUID: uid_t

    package init(socketPath: String, timeout: TimeAmount = .seconds(10), serverUID: uid_t = 0) {
        self.socketPath = socketPath
        self.timeout = timeout
        self.serverUID = serverUID
    }

    /// Root talks to root's own socket beside the shared one when it is there, as the PAM module
    /// does, so a user flooding the shared socket cannot hold up an administrator either.
    package static func preferringRootSocket(besides shared: String, serverUID: uid_t = 0) -> DaemonClient {
        let rootSocket = DaemonConfiguration.rootSocketPath(besides: shared)
        var info = stat()
        let useRoot = geteuid() == 0 && lstat(rootSocket, &info) == 0
        return DaemonClient(socketPath: useRoot ? rootSocket : shared, serverUID: serverUID)
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
        var info = stat()
        guard lstat(socketPath, &info) == 0 else {
            throw ClientError(description: "cannot connect to totpd at \(socketPath): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFSOCK, info.st_uid == serverUID else {
            throw ClientError(
                description: "refusing \(socketPath): it is not a socket owned by uid \(serverUID), so it is not totpd's")
        }
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
        // The path was checked before connecting; the peer is what counts, as the kernel saw it.
        let server = try await PeerCredentials.of(channel).get()
        guard server.uid == serverUID else {
            try? await channel.close()
            throw ClientError(
                description: "refusing \(socketPath): the process behind it runs as uid \(server.uid), not \(serverUID), so it is not totpd")
        }
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        return try await connection.executeThenClose { inbound, outbound in
            try await outbound.write(rawFrame)
            for try await frame in inbound { return frame }
            throw ClientError(description: "totpd closed the connection without answering (timeout or refused)")
        }
    }
}
