/// Zulip's rate limits as the bot last heard of them: after a 429, when its `Retry-After`
/// ends, per limit. A plain value; `ZulipClient` keeps it behind a `Mutex`, asks it before
/// every call and tells it of every 429, so that no thread sends a call into a block another
/// call (or the same thread's last one) was already told of. Zulip limits its Tornado side
/// (the long poll, `/events`) apart from the rest of the API, so one does not hold the other.
///
/// ```swift
/// var gate = ZulipRateGate()
/// gate.refused(.api, retryAfter: 9.6, now: now)
/// gate.timeLeft(.api, now: now + .seconds(1))   // 8.6 s: the call is not sent
/// gate.timeLeft(.events, now: now)              // nil: the long poll goes on
/// ```
struct ZulipRateGate: Sendable {
    /// Which of Zulip's limits a call counts against.
    enum Limit: Sendable, Hashable {
        /// Django: every call but the event queue's.
        case api
        /// Tornado: `GET` and `DELETE /events`.
        case events

        init(path: String) { self = path == "/events" ? .events : .api }
    }

    /// The longest block believed from one answer; callers wait at most this long too.
    static let longest: Duration = .seconds(300)

    private var openAt: [Limit: ContinuousClock.Instant] = [:]

    /// How long `limit` stays blocked from `now`, or nil once it is open.
    func timeLeft(_ limit: Limit, now: ContinuousClock.Instant) -> Duration? {
        guard let at = openAt[limit], at > now else { return nil }
        return at - now
    }

    /// A call against `limit` was answered 429 with `retryAfter` seconds at `now`. A later
    /// end never moves back to an earlier one (answers of concurrent calls arrive in any order).
    mutating func refused(_ limit: Limit, retryAfter: Double, now: ContinuousClock.Instant) {
        let seconds = min(max(retryAfter, 0), Self.longest.inSeconds)
        let end = now + .milliseconds(Int64((seconds * 1000).rounded(.up)))
        if let at = openAt[limit], at >= end { return }
        openAt[limit] = end
    }
}
