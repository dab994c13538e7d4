#if canImport(Glibc)
import Glibc
#endif

/// Blocking sleeps for worker threads that block by design (never an event loop or a Dispatch
/// queue): `nanosleep`, resumed after a signal so the whole time passes.
///
/// ```swift
/// Sleep.for(.milliseconds(250))
/// Sleep.seconds(0.25)
/// ```
public enum Sleep {
    /// Sleeps `duration` (nothing when it is zero or negative).
    public static func `for`(_ duration: Duration) {
        var request = duration.timespecClamped
        guard request.tv_sec > 0 || request.tv_nsec > 0 else { return }
        var left = timespec()
        while nanosleep(&request, &left) != 0 && errno == EINTR { request = left }
    }

    /// Sleeps `seconds`, at most a day (a NaN or a negative value sleeps not at all).
    public static func seconds(_ seconds: Double) {
        guard seconds > 0, seconds.isFinite else { return }
        Sleep.for(.nanoseconds(Int64(min(seconds, 86400) * 1e9)))
    }
}
