import CurlHTTP
import HTTPServer
import Platform

/// The circuit breakers of all gateway instances, plus the round-robin cursor. A plain value:
/// `GatewayClient` keeps it behind a `Mutex` and asks it, one attempt at a time, which
/// instance to try next, so concurrent fetches never probe the same instance twice.
///
/// ```swift
/// var board = GatewayCircuitBoard(urls: ["http://a", "http://b"], cooldown: .seconds(5), probeLease: .seconds(3))
/// let start = board.takeRoundRobinStart()
/// if let pick = board.next(excluding: [], start: start, probeUsed: false, after: nil, now: .now) { ... }
/// ```
struct GatewayCircuitBoard {
    /// One instance's circuit: closed (healthy), open (skipped until a time), half-open (one
    /// probe request is in flight; its result closes or re-opens the circuit).
    enum State: Equatable {
        case closed
        case open(until: ContinuousClock.Instant)
        case halfOpen(since: ContinuousClock.Instant)
    }

    /// One gateway instance's circuit state and counters.
    struct Instance {
        let url: String
        var state: State = .closed
        var lastFailure: ContinuousClock.Instant?
        var attempts = 0
        var successes = 0
        var failures = 0
        var invalidAnswers = 0
        var failoversAway = 0
    }

    /// Why an instance was picked.
    enum Role: Equatable {
        /// Circuit closed.
        case healthy
        /// Cool-down over: this request is the half-open probe.
        case probe
        /// Every circuit is open and none is being probed: tried early, as the one probe.
        case lastResort
    }

    private(set) var instances: [Instance]
    private(set) var failovers = 0
    private var roundRobin = 0
    let cooldown: Duration
    /// A half-open probe older than this is presumed lost and another may be sent.
    let probeLease: Duration

    init(urls: [String], cooldown: Duration, probeLease: Duration) {
        instances = urls.map { Instance(url: $0) }
        self.cooldown = cooldown
        self.probeLease = probeLease
    }

    /// The first healthy instance to try for one fetch; advances so load spreads.
    mutating func takeRoundRobinStart() -> Int {
        defer { roundRobin &+= 1 }
        return instances.isEmpty ? 0 : roundRobin % instances.count
    }

    /// Picks the next instance not in `tried` and counts the attempt; nil means give up now.
    /// Order: one probe of an instance whose cool-down ended (so recovered instances get traffic
    /// back), healthy ones in round-robin order from `start`, further probes. When only cooling
    /// instances are left, the one that failed longest ago is tried as an early probe (trying
    /// beats giving up without trying, e.g. after a one-off 502 from the only URL), but only
    /// once per fetch and while no other probe is in flight: with every gateway down, one request at a time waits
    /// for a timeout and the others fail at once instead of each waiting for every instance.
    /// `failed` is the instance the previous attempt of this fetch failed on: moving on from
    /// it counts as a failover.
    mutating func next(
        excluding tried: Set<Int>, start: Int, probeUsed: Bool, after failed: Int?, now: ContinuousClock.Instant
    ) -> (index: Int, role: Role)? {
        let candidates = instances.indices.filter { !tried.contains($0) }
        guard !candidates.isEmpty else { return nil }

        let probeable = candidates.filter { probeEligible(instances[$0].state, now: now) }
            .sorted { (instances[$0].lastFailure ?? now) < (instances[$1].lastFailure ?? now) }
        let healthy = candidates.filter { instances[$0].state == .closed }
            .sorted { ($0 - start + instances.count) % instances.count < ($1 - start + instances.count) % instances.count }

        let pick: (Int, Role)
        if !probeUsed, let first = probeable.first {
            pick = (first, .probe)
        } else if let first = healthy.first {
            pick = (first, .healthy)
        } else if let first = probeable.first {
            pick = (first, .probe)
        } else if !probeUsed, !probeInFlight(now: now) {
            let oldest = candidates.min { (instances[$0].lastFailure ?? now) < (instances[$1].lastFailure ?? now) }!
            pick = (oldest, .lastResort)
        } else {
            return nil
        }
        if pick.1 != .healthy { instances[pick.0].state = .halfOpen(since: now) }
        instances[pick.0].attempts += 1
        if let failed {
            failovers += 1
            instances[failed].failoversAway += 1
        }
        return pick
    }

    /// The instance answered: its circuit closes. Returns true if it had been open.
    mutating func recordSuccess(_ index: Int) -> Bool {
        let wasOpen = instances[index].state != .closed
        instances[index].successes += 1
        instances[index].state = .closed
        return wasOpen
    }

    /// The instance failed (`invalidAnswer`: it answered, but not with a sound code): its
    /// circuit opens for the cool-down. Returns true if it had been closed.
    mutating func recordFailure(_ index: Int, now: ContinuousClock.Instant, invalidAnswer: Bool = false) -> Bool {
        let wasClosed = instances[index].state == .closed
        instances[index].failures += 1
        if invalidAnswer { instances[index].invalidAnswers += 1 }
        instances[index].lastFailure = now
        instances[index].state = .open(until: now + cooldown)
        return wasClosed
    }

    var stats: [GatewayInstanceStats] {
        instances.map {
            GatewayInstanceStats(
                url: $0.url, attempts: $0.attempts, successes: $0.successes, failures: $0.failures,
                invalidAnswers: $0.invalidAnswers, failoversAway: $0.failoversAway, circuitOpen: $0.state != .closed)
        }
    }

    /// Whether some instance is half-open with its probe still within the lease.
    func probeInFlight(now: ContinuousClock.Instant) -> Bool {
        instances.contains { instance in
            if case .halfOpen(let since) = instance.state { return since + probeLease > now }
            return false
        }
    }

    private func probeEligible(_ state: State, now: ContinuousClock.Instant) -> Bool {
        switch state {
        case .closed: return false
        case .open(let until): return until <= now
        case .halfOpen(let since): return since + probeLease <= now
        }
    }
}
