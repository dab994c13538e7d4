import Platform
import TextSupport

/// A token-bucket rate: `count` requests per `seconds`, bursting up to `burst`.
///
/// ```swift
/// try RateLimit(parsing: "60/min", burst: nil)   // 1 per second, burst 60
/// ```
struct RateLimit: Sendable, Equatable {
    let count: Double
    let seconds: Double
    let burst: Double

    var perSecond: Double { count / seconds }

    init(count: Double, seconds: Double, burst: Double) {
        self.count = count
        self.seconds = seconds
        self.burst = burst
    }

    /// `N/s`, `N/sec`, `N/second`, `N/min`, `N/minute`, `N/h`, `N/hour`; `off` disables limiting (nil).
    static func parse(_ text: String, burst: String?, source: String = "GATEWAY_RATE_LIMIT", burstSource: String = "GATEWAY_RATE_BURST")
        throws(ConfigProblem) -> RateLimit?
    {
        let t = text.trimmingCharacters(in: " ").lowercased()
        if t == "off" || t == "none" || t == "0" { return nil }
        let parts = t.split(separator: "/")
        guard parts.count == 2, let n = Double(parts[0]), n > 0, n.isFinite else {
            throw ConfigProblem(source: source, message: "expected N/s, N/min or N/hour (e.g. 60/min), or off")
        }
        let seconds: Double
        switch parts[1] {
        case "s", "sec", "second": seconds = 1
        case "m", "min", "minute": seconds = 60
        case "h", "hour": seconds = 3600
        default: throw ConfigProblem(source: source, message: "unknown unit '\(parts[1])': use s, min or hour")
        }
        var b = n
        if let burst, !burst.isEmpty {
            guard let v = Double(burst), v >= 1, v.isFinite else {
                throw ConfigProblem(source: burstSource, message: "must be a number of requests >= 1")
            }
            b = v
        }
        return RateLimit(count: n, seconds: seconds, burst: b)
    }
}
