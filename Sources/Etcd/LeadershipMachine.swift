/// The leader election as a plain state machine: it takes events (results of etcd requests,
/// watch news, clock ticks) with the current monotonic time and returns the actions to perform.
/// It does no I/O and reads no clock, so every transition is tested with made-up instants;
/// `EtcdElection` performs the actions.
///
/// The protocol: grant a lease; campaign with a transaction that creates the leader key on that
/// lease only if it does not exist (`create_revision == 0`); the key's create revision is the
/// fencing token. Keep the lease alive every third of its TTL. A loser watches the key from the
/// campaign's revision and campaigns again when it is deleted. The leader may act only until
/// its **fence deadline**, the send time of its last successful renewal + TTL - margin: etcd
/// cannot expire the lease, and so cannot elect another, before that time + TTL measured from
/// when it *received* the renewal, which is later. At most one request is outstanding.
///
/// ```swift
/// var machine = LeadershipMachine(configuration: .init(leaseSeconds: 5))
/// var actions = machine.handle(.start, now: clock.now)              // [.grantLease(ttlSeconds: 5)]
/// actions = machine.handle(.leaseGranted(lease, sentAt: t0), now: clock.now)   // [.campaign(leaseID:)]
/// actions = machine.handle(.campaigned(holderLease: lease.id, token: 42, revision: 42), now: clock.now)
/// // [.roleChanged(.leader(token: 42))]
/// machine.mayAct(at: clock.now)   // true until t0 + 5 s - margin without a renewal
/// ```
public struct LeadershipMachine: Sendable {
    public typealias Instant = ContinuousClock.Instant

    public struct Configuration: Sendable, Equatable {
        /// Lease TTL asked for (etcd may grant more; the granted TTL is used). Default 5.
        public var leaseSeconds: Int64
        /// How long before the earliest possible lease expiry the leader stops acting. Covers
        /// the time between its last check and its action landing. Default 1 s.
        public var fenceMargin: Duration
        /// Wait after a failed etcd request before trying again. Default 250 ms.
        public var retryDelay: Duration

        public init(leaseSeconds: Int64 = 5, fenceMargin: Duration = .seconds(1), retryDelay: Duration = .milliseconds(250)) {
            self.leaseSeconds = leaseSeconds
            self.fenceMargin = fenceMargin
            self.retryDelay = retryDelay
        }

        /// Refuses settings under which the fence would pass before the first renewal is due.
        public func validate() throws(EtcdError) {
            guard leaseSeconds >= 2 else {
                throw .invalidRequest("the etcd lease must be at least 2 seconds (etcd's minimum); it is \(leaseSeconds)")
            }
            let ttl = Duration.seconds(leaseSeconds)
            guard fenceMargin > .zero, fenceMargin < ttl * 2 / 3 else {
                throw .invalidRequest("the fence margin must be above 0 and below two thirds of the lease "
                    + "(\(ttl * 2 / 3)) so that a renewal is due before the fence; it is \(fenceMargin)")
            }
            guard retryDelay > .zero, retryDelay < ttl / 3 else {
                throw .invalidRequest("the retry delay must be above 0 and below a third of the lease; it is \(retryDelay)")
            }
        }
    }

    public enum Event: Sendable, Equatable {
        case start
        /// The lease grant sent at `sentAt` succeeded.
        case leaseGranted(EtcdLease, sentAt: Instant)
        /// The campaign transaction ran; the leader key is held by `holderLease` since revision
        /// `token` (its create revision), read at store revision `revision`. The holder may be
        /// this participant's own lease: a campaign whose answer was lost and that was repeated.
        case campaigned(holderLease: Int64, token: Int64, revision: Int64)
        /// The keepalive sent at `sentAt` succeeded; etcd renewed the lease for `ttlSeconds`.
        case keepAliveSucceeded(ttlSeconds: Int64, sentAt: Instant)
        /// etcd says the lease does not exist (expired or revoked).
        case leaseLost
        /// The outstanding request failed otherwise (etcd unreachable, refused): retry later.
        case requestFailed
        /// The watch saw the leader key deleted.
        case leaderKeyDeleted
        /// The watch cannot go on (history compacted): campaign again to learn the state.
        case watchFailed
        /// Time passed; performs what is due.
        case tick
        /// Resign and stop.
        case stop
    }

    public enum Action: Sendable, Equatable {
        case grantLease(ttlSeconds: Int64)
        /// Transaction: create the leader key on `leaseID` if `create_revision == 0`, else read it.
        case campaign(leaseID: Int64)
        case keepAlive(leaseID: Int64)
        /// Watch the leader key from `fromRevision`, reporting its deletion.
        case watch(fromRevision: Int64)
        case cancelWatch
        /// Revoke the lease: deletes the leader key at once, so a standby takes over without
        /// waiting for the TTL.
        case revoke(leaseID: Int64)
        /// Reported first in a list: a leader that stops being one stops acting before anything else.
        case roleChanged(LeadershipRole)
    }

    enum Phase: Sendable, Equatable {
        case idle
        case candidate
        case standby
        case leader(token: Int64)
        case stopped
    }

    struct Lease: Sendable, Equatable {
        var id: Int64
        var ttl: Duration
        /// Send time of the last successful grant or keepalive.
        var renewedAt: Instant
    }

    enum Request: Sendable, Equatable {
        case grant, campaign, keepAlive
    }

    public let configuration: Configuration
    private(set) var phase: Phase = .idle
    private(set) var lease: Lease?
    /// The request whose result is awaited; nothing else is sent meanwhile.
    private(set) var awaiting: Request?
    /// When each request is due next (nil: not wanted).
    private(set) var grantAt: Instant?
    private(set) var campaignAt: Instant?
    private(set) var keepAliveAt: Instant?
    /// The role last reported with `.roleChanged`.
    private(set) var reportedRole: LeadershipRole = .candidate

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The role at `now`, the fence deadline applied: a leader past it is `.fenced`.
    public func role(at now: Instant) -> LeadershipRole {
        switch phase {
        case .idle, .candidate: return .candidate
        case .standby: return .standby
        case .stopped: return .stopped
        case .leader(let token):
            if let deadline = fenceDeadline, now < deadline { return .leader(token: token) }
            return .fenced(token: token)
        }
    }

    /// True while leading and before the fence deadline: the only time the leader may act.
    public func mayAct(at now: Instant) -> Bool {
        role(at: now).isLeader
    }

    /// Last renewal's send time + TTL - margin, while leading.
    public var fenceDeadline: Instant? {
        guard case .leader = phase, let lease else { return nil }
        return lease.renewedAt + lease.ttl - configuration.fenceMargin
    }

    /// The lease held, if any (also in standby: it is kept alive for a quick campaign).
    public var leaseID: Int64? { lease?.id }

    /// When the machine next needs a `.tick` (a request due, or the fence deadline to report).
    public var nextWakeUp: Instant? {
        guard phase != .stopped else { return nil }
        var times: [Instant] = []
        if awaiting == nil {
            if lease != nil, let keepAliveAt { times.append(keepAliveAt) }
            if lease == nil, let grantAt { times.append(grantAt) }
            if lease != nil, phase == .candidate, let campaignAt { times.append(campaignAt) }
        }
        if let deadline = fenceDeadline { times.append(deadline) }
        return times.min()
    }

    public mutating func handle(_ event: Event, now: Instant) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .start:
            guard phase == .idle else { break }
            phase = .candidate
            grantAt = now

        case .leaseGranted(let granted, let sentAt):
            guard awaiting == .grant else { break }
            awaiting = nil
            let ttl = Duration.seconds(granted.ttlSeconds)
            lease = Lease(id: granted.id, ttl: ttl, renewedAt: sentAt)
            keepAliveAt = sentAt + ttl / 3
            grantAt = nil
            campaignAt = now

        case .campaigned(let holderLease, let token, let revision):
            guard awaiting == .campaign, let lease else { break }
            awaiting = nil
            campaignAt = nil
            if holderLease == lease.id {
                phase = .leader(token: token)
            } else {
                phase = .standby
                actions.append(.watch(fromRevision: revision + 1))
            }

        case .keepAliveSucceeded(let ttlSeconds, let sentAt):
            guard awaiting == .keepAlive, var renewed = lease else { break }
            awaiting = nil
            renewed.ttl = .seconds(ttlSeconds)
            renewed.renewedAt = max(renewed.renewedAt, sentAt)
            lease = renewed
            keepAliveAt = sentAt + renewed.ttl / 3

        case .leaseLost:
            guard phase != .stopped, phase != .idle else { break }
            awaiting = nil
            if phase == .standby { actions.append(.cancelWatch) }
            phase = .candidate
            lease = nil
            keepAliveAt = nil
            campaignAt = nil
            grantAt = now

        case .requestFailed:
            let retryAt = now + configuration.retryDelay
            switch awaiting {
            case .grant: grantAt = retryAt
            case .campaign: campaignAt = retryAt
            case .keepAlive: keepAliveAt = retryAt
            case nil: break
            }
            awaiting = nil

        case .leaderKeyDeleted, .watchFailed:
            guard phase == .standby else { break }
            phase = .candidate
            campaignAt = now

        case .tick:
            break

        case .stop:
            guard phase != .stopped else { break }
            if phase == .standby { actions.append(.cancelWatch) }
            if let lease { actions.append(.revoke(leaseID: lease.id)) }
            phase = .stopped
            lease = nil
            awaiting = nil
            grantAt = nil
            campaignAt = nil
            keepAliveAt = nil
        }

        let role = role(at: now)
        if role != reportedRole {
            reportedRole = role
            actions.insert(.roleChanged(role), at: 0)
        }
        if let request = dueRequest(at: now) { actions.append(request) }
        return actions
    }

    /// The request to send now, if none is outstanding; renewing the lease comes first.
    private mutating func dueRequest(at now: Instant) -> Action? {
        guard awaiting == nil, phase != .stopped, phase != .idle else { return nil }
        if let lease {
            if let keepAliveAt, now >= keepAliveAt {
                awaiting = .keepAlive
                return .keepAlive(leaseID: lease.id)
            }
            if phase == .candidate, let campaignAt, now >= campaignAt {
                awaiting = .campaign
                return .campaign(leaseID: lease.id)
            }
        } else if let grantAt, now >= grantAt {
            awaiting = .grant
            return .grantLease(ttlSeconds: configuration.leaseSeconds)
        }
        return nil
    }
}
