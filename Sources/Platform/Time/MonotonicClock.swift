#if canImport(Glibc)
import Glibc
#endif

/// The process's monotonic clock (`CLOCK_MONOTONIC`): for timeouts, rates and durations, never
/// for timestamps (those are `Logger.wallClock`). One reading function, so every component
/// measures time on the same clock.
///
/// ```swift
/// let start = MonotonicClock.nanoseconds()
/// // ...
/// let tookSeconds = MonotonicClock.seconds() - Double(start) / 1e9
/// ```
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary point (boot, on Linux).
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// The same reading in seconds.
    public static func seconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// `seconds` as a closure, the default of the types that take an injected clock.
    public static let secondsNow: @Sendable () -> Double = { MonotonicClock.seconds() }
}
