import Synchronization

/// One `TokenBucket` per Zulip user id, so one user cannot drain the gateway's budget.
/// Thread-safe; the clock is injected (monotonic seconds).
///
/// ```swift
/// let limiter = UserRateLimiter(burst: 5, perMinute: 10)
/// if let wait = limiter.check(userID: 42) { reply("try again in \(Int(wait)) s") }
/// ```
final class UserRateLimiter: Sendable {
    private let burst: Double
    private let perSecond: Double
    private let now: @Sendable () -> Double
    private let buckets = Mutex<[Int: TokenBucket]>([:])

    init(burst: Int, perMinute: Double, now: @escaping @Sendable () -> Double = UserRateLimiter.monotonicSeconds) {
        self.burst = Double(burst)
        self.perSecond = perMinute / 60
        self.now = now
    }

    /// nil when allowed; otherwise seconds until this user may ask again.
    func check(userID: Int) -> Double? {
        let t = now()
        return buckets.withLock { buckets in
            var bucket = buckets[userID] ?? TokenBucket(capacity: burst, perSecond: perSecond, now: t)
            let wait = bucket.take(now: t)
            buckets[userID] = bucket
            // Full buckets carry no information: drop them so the table stays small.
            if buckets.count > 10_000 { buckets = buckets.filter { $0.value.tokens < $0.value.capacity - 0.5 } }
            return wait
        }
    }

    static let monotonicSeconds: @Sendable () -> Double = {
        let d = ContinuousClock.now - ContinuousClock.zeroInstant
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

extension ContinuousClock {
    /// A fixed reference instant for converting `now` into seconds.
    static let zeroInstant = ContinuousClock.now
}
