#if canImport(Glibc)
import Glibc
#endif

/// The one place a `Duration` becomes a number of seconds, milliseconds or nanoseconds, or a
/// `timespec`: for metrics and JSON, log fields, timers and system calls.
///
/// ```swift
/// Duration.milliseconds(1500).inSeconds        // 1.5
/// Duration.milliseconds(1500).inMilliseconds   // 1500
/// Duration.seconds(-1).nanosecondsClamped      // 0
/// ```
extension Duration {
    /// Seconds, fractional.
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }

    /// Whole milliseconds, truncated towards zero; saturates instead of overflowing.
    public var inMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let ms = seconds.multipliedReportingOverflow(by: 1000)
        if ms.overflow { return seconds < 0 ? Int64.min / 2 : Int64.max / 2 }
        return ms.partialValue + attoseconds / 1_000_000_000_000_000
    }

    /// Whole seconds, truncated towards zero.
    public var wholeSeconds: Int64 { components.seconds }

    /// Whole nanoseconds, clamped at zero and at `UInt64.max / 2` (for monotonic deadlines,
    /// which add it to a clock reading).
    public var nanosecondsClamped: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let limit = UInt64.max / 2
        guard seconds < Int64(limit / 1_000_000_000) else { return limit }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }

    /// As a `timespec` for `nanosleep` and friends, clamped at zero.
    public var timespecClamped: timespec {
        let ns = nanosecondsClamped
        return timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    }
}
