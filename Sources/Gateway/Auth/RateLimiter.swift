import Synchronization

/// Per-token token buckets. Buckets are keyed by token name, which is bounded by the
/// configuration, so memory cannot grow with traffic.
///
/// ```swift
/// let limiter = RateLimiter(limit: RateLimit(count: 60, seconds: 60, burst: 60))
/// switch limiter.take("bot", now: 12.5) { case .allowed: ...; case .limited(let retryAfter): ... }
/// ```
final class RateLimiter: Sendable {
    /// Whether a request may proceed, or how long the client should wait.
    enum Decision: Equatable {
        case allowed
        case limited(retryAfterSeconds: Int)
    }

    /// One token bucket: tokens left and when it was last refilled.
    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    let limit: RateLimit?
    private let buckets = Mutex<[String: Bucket]>([:])

    init(limit: RateLimit?) { self.limit = limit }

    /// Takes one request for `key` at monotonic time `now` (seconds).
    func take(_ key: String, now: Double) -> Decision {
        guard let limit else { return .allowed }
        return buckets.withLock { map in
            var b = map[key] ?? Bucket(tokens: limit.burst, updated: now)
            b.tokens = min(limit.burst, b.tokens + max(0, now - b.updated) * limit.perSecond)
            b.updated = now
            if b.tokens >= 1 {
                b.tokens -= 1
                map[key] = b
                return .allowed
            }
            map[key] = b
            let wait = (1 - b.tokens) / limit.perSecond
            return .limited(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
        }
    }
}
