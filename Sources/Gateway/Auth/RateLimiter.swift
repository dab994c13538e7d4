import Synchronization

/// Token buckets by key: per token name for the request rate (bounded by the configuration),
/// per client address for failed authentications (bounded by `maxKeys`: when the table is
/// full, buckets that have refilled are forgotten first, then the longest unused).
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
    let maxKeys: Int
    private let buckets = Mutex<[String: Bucket]>([:])

    init(limit: RateLimit?, maxKeys: Int = Int.max) {
        self.limit = limit
        self.maxKeys = maxKeys
    }

    /// Takes one request for `key` at monotonic time `now` (seconds).
    func take(_ key: String, now: Double) -> Decision { decide(key, now: now, take: true) }

    /// Whether `key` has a request left, without taking it (the failure throttle asks before
    /// authenticating and takes only when authentication fails).
    func check(_ key: String, now: Double) -> Decision { decide(key, now: now, take: false) }

    private func decide(_ key: String, now: Double, take: Bool) -> Decision {
        guard let limit else { return .allowed }
        return buckets.withLock { map in
            guard var b = map[key] else {
                if !take { return .allowed }  // an unknown key has a full bucket
                if map.count >= maxKeys { Self.makeRoom(&map, now: now, limit: limit) }
                map[key] = Bucket(tokens: limit.burst - 1, updated: now)
                return .allowed
            }
            b.tokens = min(limit.burst, b.tokens + max(0, now - b.updated) * limit.perSecond)
            b.updated = now
            if b.tokens >= 1 {
                if take { b.tokens -= 1 }
                map[key] = b
                return .allowed
            }
            map[key] = b
            let wait = (1 - b.tokens) / limit.perSecond
            return .limited(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
        }
    }

    /// Forgets the buckets that have refilled (they hold nothing a new bucket would not);
    /// if none has, the one unused longest. Only when the table is full, so O(n) is rare.
    private static func makeRoom(_ map: inout [String: Bucket], now: Double, limit: RateLimit) {
        let before = map.count
        map = map.filter { $0.value.tokens + max(0, now - $0.value.updated) * limit.perSecond < limit.burst }
        if map.count < before { return }
        if let oldest = map.min(by: { $0.value.updated < $1.value.updated })?.key { map[oldest] = nil }
    }
}
