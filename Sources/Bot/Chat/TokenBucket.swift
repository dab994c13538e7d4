/// A token bucket: `capacity` requests at once, refilled at `perSecond`.
///
/// ```swift
/// var bucket = TokenBucket(capacity: 5, perSecond: 0.1, now: 0)
/// bucket.take(now: 0)   // nil: allowed; otherwise the seconds to wait
/// ```
struct TokenBucket: Sendable {
    let capacity: Double
    let perSecond: Double
    private(set) var tokens: Double
    private(set) var updated: Double

    init(capacity: Double, perSecond: Double, now: Double) {
        self.capacity = capacity
        self.perSecond = perSecond
        tokens = capacity
        updated = now
    }

    /// Takes one token: nil when allowed, else the seconds until one is available.
    mutating func take(now: Double) -> Double? {
        tokens = min(capacity, tokens + max(0, now - updated) * perSecond)
        updated = now
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        return (1 - tokens) / perSecond
    }
}
