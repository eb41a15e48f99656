import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where blocking account lookups run: threads of their own, so a slow directory (LDAP, SSSD)
/// never occupies an event loop or the shared concurrency threads. Root's requests (the login
/// stack) have their own threads and are never queued behind anyone else's; another uid may have
/// only a few lookups in flight at once. A lookup that outlives the time limit fails its request
/// closed; its thread is busy until the directory answers, and that uid's quota with it.
package final class LookupPool: Sendable {
    package struct Refusal: Error, CustomStringConvertible {
        package let description: String
    }

    private let rootThreads: NIOThreadPool
    private let sharedThreads: NIOThreadPool
    private let perUIDLimit: Int
    private let timeLimit: TimeAmount
    private let inFlight = Mutex<[uid_t: Int]>([:])

    package init(rootThreads: Int = 4, sharedThreads: Int = 4, perUIDLimit: Int = 2, timeLimit: TimeAmount = .seconds(2)) {
        self.rootThreads = NIOThreadPool(numberOfThreads: rootThreads)
        self.sharedThreads = NIOThreadPool(numberOfThreads: sharedThreads)
        self.perUIDLimit = perUIDLimit
        self.timeLimit = timeLimit
        self.rootThreads.start()
        self.sharedThreads.start()
    }

    deinit {
        rootThreads.shutdownGracefully { _ in }
        sharedThreads.shutdownGracefully { _ in }
    }

    /// Runs `lookup` on a pool thread for `caller`, and returns its result, or throws `Refusal`
    /// when the caller has too many lookups in flight or the time limit passes first.
    package func run<T: Sendable>(for caller: uid_t, _ lookup: @escaping @Sendable () throws -> T) async throws -> T {
        let isRoot = caller == 0
        if !isRoot {
            let admitted = inFlight.withLock { counts in
                guard counts[caller, default: 0] < perUIDLimit else { return false }
                counts[caller, default: 0] += 1
                return true
            }
            guard admitted else {
                throw Refusal(description: "too many account lookups in progress for uid \(caller)")
            }
        }
        let release: @Sendable () -> Void = { [self] in
            guard !isRoot else { return }
            inFlight.withLock { counts in
                let left = counts[caller, default: 1] - 1
                counts[caller] = left == 0 ? nil : left
            }
        }
        let timeLimit = timeLimit
        let threads = isRoot ? rootThreads : sharedThreads
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let answer = OneAnswer(continuation)
            let timer = MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: timeLimit) {
                answer.give(.failure(Refusal(description: "the account database did not answer within \(timeLimit.nanoseconds / 1_000_000) ms")))
            }
            threads.submit { state in
                // Released before the answer goes out, so the caller's next lookup finds its slot free.
                guard state == .active else {
                    release()
                    answer.give(.failure(Refusal(description: "the daemon is shutting down")))
                    return
                }
                let result = Result { try lookup() }
                release()
                timer.cancel()
                answer.give(result)
            }
        }
    }
}

/// A continuation resumed by whichever comes first, the lookup or its time limit.
private final class OneAnswer<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation = Mutex(continuation)
    }

    func give(_ result: Result<T, any Error>) {
        continuation.withLock { $0.take() }?.resume(with: result)
    }
}
