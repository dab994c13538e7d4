#if canImport(Glibc)
import Glibc
#endif

/// Blocking sleeps for the bot's worker threads (never called on a Dispatch main queue).
///
/// ```swift
/// Sleep.seconds(0.25)
/// ```
enum Sleep {
    static func seconds(_ seconds: Double) {
        guard seconds > 0, seconds.isFinite else { return }
        let s = min(seconds, 86400)
        var ts = timespec(tv_sec: Int(s), tv_nsec: Int((s - s.rounded(.down)) * 1e9))
        var rem = timespec()
        while nanosleep(&ts, &rem) != 0 && errno == EINTR { ts = rem }
    }

    static func duration(_ d: Duration) {
        seconds(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }
}
