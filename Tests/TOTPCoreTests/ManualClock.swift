import Synchronization

@testable import TOTPCore

/// A clock the test moves by hand, so 30-second steps pass instantly.
final class ManualClock: WallClock {
    private let current: Mutex<Int64>

    init(_ start: Int64) { current = Mutex(start) }

    func unixTime() -> Int64 { current.withLock { $0 } }

    func advance(by seconds: Int64) { current.withLock { $0 += seconds } }
}
