/// How long the leader waits for an answer to a long-poll (`GET /events`) before it calls the
/// poll stuck, abandons it and polls again with the same `last_event_id` (nothing is lost: the
/// events it did not acknowledge are sent again). Zulip answers every long-poll within its
/// heartbeat interval (45-55 s on a real server), so an answer that is late well past that
/// will not come: a proxy, NAT or load balancer dropped the connection without a reset, or the
/// server lost the request.
///
/// From what the server tells and what was seen:
/// - `ceiling`: register's `event_queue_longpoll_timeout_seconds` (90 s when not given), which
///   Zulip guarantees to be "somewhat greater than the heartbeat frequency";
/// - `longest`: the longest time a poll took to be answered in this process (any queue: the
///   heartbeat pace is the server's), trusted once a poll was answered by a heartbeat, since
///   only an idle poll shows how long the server holds one.
///
/// `limit` = min(max(ceiling, 90 s) + 10 s, max(longest × 5/4, longest + 5 s)); before a
/// heartbeat was seen, max(ceiling, 90 s) + 10 s (100 s against Zulip, the old fixed timeout).
/// With heartbeats of 45-55 s: 68.75 s (56.25 s while the longest seen is 45 s, still above 55 s,
/// so a slower heartbeat is never taken for a hang); with 1 s heartbeats: 6 s.
///
/// ```swift
/// var patience = LongPollPatience()
/// patience.registered(longpollTimeoutSeconds: queue.event_queue_longpoll_timeout_seconds)
/// patience.answered(after: .seconds(48), heartbeat: true)
/// patience.limit    // 60 s
/// ```
struct LongPollPatience: Sendable, Equatable {
    /// What a server that does not say is assumed to use, and the floor of the cap.
    static let assumedCeiling: Duration = .seconds(90)
    /// Above the ceiling before anything was seen (the client timeout Zulip recommends plus room).
    static let capMargin: Duration = .seconds(10)
    /// The least margin above the longest answer, for jitter at fast heartbeats.
    static let minimumMargin: Duration = .seconds(5)

    private(set) var ceiling: Duration = Self.assumedCeiling
    private(set) var longest: Duration = .zero
    private(set) var heartbeatSeen = false

    /// A queue was registered; its register answer may give the server's long-poll timeout.
    mutating func registered(longpollTimeoutSeconds: Int?) {
        ceiling = longpollTimeoutSeconds.map { Duration.seconds(max(1, $0)) } ?? Self.assumedCeiling
    }

    /// A poll sent `after` ago got its answer; `heartbeat` if the answer held a heartbeat event.
    mutating func answered(after: Duration, heartbeat: Bool) {
        longest = max(longest, after)
        if heartbeat { heartbeatSeen = true }
    }

    /// The longest wait ever allowed: the old fixed client timeout.
    var cap: Duration { max(ceiling, Self.assumedCeiling) + Self.capMargin }

    /// How long the next poll may go unanswered.
    var limit: Duration {
        guard heartbeatSeen else { return cap }
        return min(cap, max(longest * 5 / 4, longest + Self.minimumMargin))
    }
}
