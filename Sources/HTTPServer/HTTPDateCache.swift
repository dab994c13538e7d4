#if canImport(Glibc)
import Glibc
#endif

/// The `Date: ...\r\n` header line, rebuilt at most once per wall-clock second. One per event
/// loop, so no locking.
///
/// ```swift
/// var cache = HTTPDateCache()
/// cache.refresh()
/// cache.headerLine   // "Date: Tue, 25 Nov 2025 10:00:00 GMT\r\n" as bytes
/// ```
struct HTTPDateCache {
    private(set) var headerLine: [UInt8] = []
    private var second: Int = -1

    /// Rebuilds the line if the (coarse) wall-clock second changed since the last call.
    mutating func refresh() {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &ts)
        let now = Int(ts.tv_sec)
        if now == second { return }
        second = now
        headerLine = HTTPDateCache.format(seconds: now)
    }

    /// IMF-fixdate (RFC 9110 5.6.7) as a complete header line.
    static func format(seconds: Int) -> [UInt8] {
        var t = time_t(seconds)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        var out: [UInt8] = Array("Date: ".utf8)
        out.reserveCapacity(37)
        out.append(contentsOf: days[Int(tmv.tm_wday) % 7].utf8)
        out.append(contentsOf: ", ".utf8)
        func two(_ v: Int32) {
            out.append(UInt8(0x30 + v / 10 % 10))
            out.append(UInt8(0x30 + v % 10))
        }
        two(tmv.tm_mday)
        out.append(0x20)
        out.append(contentsOf: months[Int(tmv.tm_mon) % 12].utf8)
        out.append(0x20)
        let year = tmv.tm_year + 1900
        two(year / 100)
        two(year % 100)
        out.append(0x20)
        two(tmv.tm_hour)
        out.append(UInt8(ascii: ":"))
        two(tmv.tm_min)
        out.append(UInt8(ascii: ":"))
        two(tmv.tm_sec)
        out.append(contentsOf: " GMT\r\n".utf8)
        return out
    }
}
