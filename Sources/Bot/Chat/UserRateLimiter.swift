import Platform
import Synchronization

/// One `TokenBucket` per Zulip user id, so one user cannot drain the gateway's budget.
/// `admit` also says whether a refusal deserves a notice: one per limited stretch, so a user
/// (or a program) sending a flood gets one "try again in N s" and silence until then, not a
/// reply per message. Thread-safe; the clock is injected (monotonic seconds).
///
/// ```swift
/// let limiter = UserRateLimiter(burst: 5, perMinute: 10)
/// switch limiter.admit(userID: 42) {
/// case .allowed: answer()
/// case .limited(let wait, notify: true): reply("try again in \(Int(wait)) s")
/// case .limited(_, notify: false): break   // already told
/// }
/// ```
final class UserRateLimiter: Sendable {
    /// What to do with one request.
    enum Verdict: Sendable, Equatable {
        case allowed
        /// Refused; `retryIn` seconds until the next token, `notify` for the first refusal
        /// since the last notice's wait ran out.
        case limited(retryIn: Double, notify: Bool)
    }

    private let burst: Double
    private let perSecond: Double
    private let now: @Sendable () -> Double
    private let buckets = Mutex<[Int: TokenBucket]>([:])
    /// Per user: until when the last notice's "try again in" holds.
    private let noticeUntil = Mutex<[Int: Double]>([:])

    /// `check`, plus whether this refusal should be told: not while an earlier notice's wait
    /// has not run out (it already said when to come back).
    func admit(userID: Int) -> Verdict {
        guard let wait = check(userID: userID) else { return .allowed }
        let t = now()
        let notify = noticeUntil.withLock { until -> Bool in
            if let end = until[userID], t < end { return false }
            until[userID] = t + wait
            if until.count > 10_000 { until = until.filter { $0.value > t } }
            return true
        }
        return .limited(retryIn: wait, notify: notify)
    }

    init(burst: Int, perMinute: Double, now: @escaping @Sendable () -> Double = MonotonicClock.secondsNow) {
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

}

extension ContinuousClock {
    /// A fixed reference instant for converting `now` into seconds.
    static let zeroInstant = ContinuousClock.now
}
