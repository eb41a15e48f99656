#if canImport(Glibc)
import Glibc
#endif

/// Unix time in seconds. Injected everywhere time matters so tests can walk through
/// TOTP steps without sleeping.
package protocol WallClock: Sendable {
    func unixTime() -> Int64
}

package struct SystemWallClock: WallClock {
    package init() {}

    package func unixTime() -> Int64 { Int64(time(nil)) }
}
