import CurlHTTP
import Dispatch
import Platform
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs a `LeadershipMachine` against etcd: performs its actions with an `EtcdClient` on its own
/// thread ("etcd-election"), watches the leader key on another ("etcd-watch") while standing
/// by, and reports role changes through `onRoleChange` (called on the election thread). Whether
/// this participant may act is answered from the clock at the moment of asking (`role`,
/// `fence()`), not from the last tick, so a leader whose election thread is starved or paused
/// still stops acting at its fence deadline.
///
/// ```swift
/// let election = EtcdElection(client: client, configuration: configuration) { role in
///     logger.info("role", ["role": .string(role.name)])
/// }
/// election.start()
/// if let fence = election.fence() { _ = try writes.claim(message: id, fence: fence) }
/// election.stop()     // resigns: revokes the lease, so a standby takes over at once
/// ```
public final class EtcdElection: Sendable {
    public typealias Instant = ContinuousClock.Instant

    public let configuration: EtcdElectionConfiguration
    private let client: EtcdClient
    private let now: @Sendable () -> Instant
    private let logger: Logger?
    private let onRoleChange: @Sendable (LeadershipRole) -> Void
    /// Told the outcome of every election request (for metrics): its name and whether it worked.
    private let onRequest: @Sendable (_ request: String, _ succeeded: Bool) -> Void
    private let machine: Mutex<LeadershipMachine>
    /// Events from the watch thread and `stop`, drained by the election thread.
    private let inbox = Mutex<[LeadershipMachine.Event]>([])
    private let wakeUp = DispatchSemaphore(value: 0)
    /// The running watch, cancelled when the machine says so or on stop.
    private let currentWatch = Mutex<HTTPCancellation?>(nil)
    /// Entered by each thread this election starts; `stop` waits for it.
    private let threads = DispatchGroup()
    private let started = Atomic<Bool>(false)
    /// Test hook: while set, the election thread does nothing (no keepalive), like a process
    /// frozen by SIGSTOP or a VM pause, while the clock runs on.
    private let paused = Atomic<Bool>(false)

    /// `now` is the monotonic clock of the fence (inject one in tests); `logger` gets role
    /// changes and failed requests (lease IDs and revisions only, never a value).
    public init(
        client: EtcdClient, configuration: EtcdElectionConfiguration, logger: Logger? = nil,
        now: @escaping @Sendable () -> Instant = { .now },
        onRequest: @escaping @Sendable (_ request: String, _ succeeded: Bool) -> Void = { _, _ in },
        onRoleChange: @escaping @Sendable (LeadershipRole) -> Void = { _ in }
    ) {
        self.client = client
        self.onRequest = onRequest
        self.configuration = configuration
        self.logger = logger
        self.now = now
        self.onRoleChange = onRoleChange
        machine = Mutex(LeadershipMachine(configuration: configuration.machine))
    }

    /// The role now, the fence deadline applied.
    public var role: LeadershipRole {
        machine.withLock { $0.role(at: now()) }
    }

    /// The fence to attach to writes, or nil unless this participant leads and its fence
    /// deadline has not passed. Ask right before each action.
    public func fence() -> EtcdFence? {
        guard case .leader(let token) = role else { return nil }
        return EtcdFence(leaderKey: configuration.keyspace.leader, token: token)
    }

    /// When leadership must stop without a renewal (nil unless leading).
    public var fenceDeadline: Instant? {
        machine.withLock { $0.fenceDeadline }
    }

    /// Starts the election thread; it grants a lease and campaigns. Only the first call counts.
    public func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        threads.enter()
        NamedThread.detach(name: "etcd-election") { [self] in
            defer { threads.leave() }
            run()
        }
    }

    /// Resigns (revokes the lease, which deletes the leader key so a standby takes over at
    /// once) and waits up to `timeout` for the threads to end. True if they did.
    @discardableResult
    public func stop(timeout: Duration = .seconds(5)) -> Bool {
        guard started.load(ordering: .acquiring) else { return true }
        post(.stop)
        currentWatch.withLock { $0?.cancel() }
        paused.store(false, ordering: .releasing)
        return threads.wait(timeout: Self.dispatchTime(after: timeout)) == .success
    }

    // MARK: Test hooks

    /// Freezes the election thread (no keepalives, no campaign) until `resumeForTesting`.
    func pauseForTesting() { paused.store(true, ordering: .releasing) }
    func resumeForTesting() {
        paused.store(false, ordering: .releasing)
        wakeUp.signal()
    }

    // MARK: The election thread

    private func run() {
        post(.start)
        var stopping = false
        while !stopping {
            let wake = machine.withLock { $0.nextWakeUp }
            wait(until: wake)
            while paused.load(ordering: .acquiring) { usleep(5_000) }
            var events = inbox.withLock { inbox in
                defer { inbox.removeAll() }
                return inbox
            }
            events.append(.tick)
            while !events.isEmpty {
                let event = events.removeFirst()
                if event == .stop { stopping = true }
                let actions = machine.withLock { $0.handle(event, now: now()) }
                for action in actions {
                    if let result = perform(action) { events.append(result) }
                }
            }
        }
        logger?.info("etcd_election_stopped")
    }

    private func post(_ event: LeadershipMachine.Event) {
        inbox.withLock { $0.append(event) }
        wakeUp.signal()
    }

    /// Waits for an event or until `instant` (at most a second, so a clock injected by a test
    /// is looked at regularly).
    private func wait(until instant: Instant?) {
        var wait = Duration.seconds(1)
        if let instant { wait = min(wait, max(.zero, instant - now())) }
        _ = wakeUp.wait(timeout: Self.dispatchTime(after: wait))
    }

    private static func dispatchTime(after duration: Duration) -> DispatchTime {
        .now() + .nanoseconds(Int(duration.nanosecondsClamped))
    }

    /// Performs one action; returns the event its result is (for requests).
    private func perform(_ action: LeadershipMachine.Action) -> LeadershipMachine.Event? {
        let budget = configuration.requestBudget
        switch action {
        case .roleChanged(let role):
            logger?.info("etcd_role_changed", ["role": .string(role.name), "token": .int(Self.token(of: role))])
            onRoleChange(role)
            return nil

        case .grantLease(let ttl):
            let sentAt = now()
            do {
                let lease = try client.grantLease(ttlSeconds: ttl, budget: budget)
                onRequest("grant_lease", true)
                return .leaseGranted(lease, sentAt: sentAt)
            } catch {
                return failed("grant_lease", error)
            }

        case .campaign(let lease):
            do {
                let result = try campaign(lease: lease, budget: budget)
                onRequest("campaign", true)
                return result
            } catch {
                return failed("campaign", error)
            }

        case .keepAlive(let lease):
            let sentAt = now()
            do {
                let renewed = try client.keepAlive(lease: lease, budget: budget)
                onRequest("keepalive", true)
                return .keepAliveSucceeded(ttlSeconds: renewed.ttlSeconds, sentAt: sentAt)
            } catch {
                return failed("keepalive", error)
            }

        case .watch(let revision):
            startWatch(from: revision)
            return nil

        case .cancelWatch:
            currentWatch.withLock { watch in
                watch?.cancel()
                watch = nil
            }
            return nil

        case .revoke(let lease):
            do {
                try client.revokeLease(lease, budget: budget)
            } catch {
                // The lease expires by itself within its TTL.
                logger?.warning("etcd_revoke_failed", ["lease": .int(Int(lease)), "error": .string(error.message)])
            }
            return nil
        }
    }

    /// Creates the leader key on `lease` if it does not exist; either way reads who holds it.
    private func campaign(lease: Int64, budget: Duration) throws(EtcdError) -> LeadershipMachine.Event {
        let key = configuration.keyspace.leader
        let result = try client.txn(EtcdTxn(
            compare: [.createRevision(key, .equal, 0)],
            success: [.put(key, value: Array(configuration.identity.utf8), lease: lease), .get(.key(key))],
            failure: [.get(.key(key))]), budget: budget)
        guard let holder = result.range(at: result.succeeded ? 1 : 0)?.kvs.first else {
            // Deleted between the comparison and the read cannot happen in one transaction;
            // treat an answer without it as a failed request.
            throw .badResponse("the campaign transaction answered without the leader key")
        }
        return .campaigned(holderLease: holder.lease, token: holder.createRevision, revision: result.revision)
    }

    private func failed(_ request: String, _ error: EtcdError) -> LeadershipMachine.Event {
        logger?.warning("etcd_request_failed", ["request": .string(request), "error": .string(error.message)])
        onRequest(request, false)
        return error == .leaseNotFound ? .leaseLost : .requestFailed
    }

    private static func token(of role: LeadershipRole) -> Int {
        switch role {
        case .leader(let token), .fenced(let token): Int(token)
        default: 0
        }
    }

    // MARK: The watch thread

    private func startWatch(from revision: Int64) {
        let cancellation = HTTPCancellation()
        let previous = currentWatch.withLock { current in
            defer { current = cancellation }
            return current
        }
        previous?.cancel()
        threads.enter()
        NamedThread.detach(name: "etcd-watch") { [self] in
            defer { threads.leave() }
            watchLeaderKey(from: revision, cancellation: cancellation)
        }
    }

    /// Watches the leader key until it is deleted (posts `.leaderKeyDeleted`), the history is
    /// compacted (`.watchFailed`) or the watch is cancelled; reconnects meanwhile.
    private func watchLeaderKey(from revision: Int64, cancellation: HTTPCancellation) {
        var request = EtcdWatchRequest(
            range: .key(configuration.keyspace.leader), startRevision: revision, maxDuration: configuration.watchRenewal)
        while !cancellation.isCancelled {
            do {
                let end = try client.watch(request, cancellation: cancellation) { events, _ in
                    !events.contains { $0.kind == .delete }
                }
                switch end {
                case .cancelled:
                    return
                case .stoppedByHandler:
                    postFromWatch(.leaderKeyDeleted, cancellation)
                    return
                case .interrupted(let resumeFrom):
                    request.startRevision = resumeFrom
                }
            } catch let error where error == .compacted {
                postFromWatch(.watchFailed, cancellation)
                return
            } catch {
                logger?.warning("etcd_watch_failed", ["error": .string(error.message)])
                onRequest("watch", false)
                sleep(configuration.machine.retryDelay, unless: cancellation)
            }
        }
    }

    /// Posts only while `cancellation` is still the current watch: a replaced watch is stale.
    private func postFromWatch(_ event: LeadershipMachine.Event, _ cancellation: HTTPCancellation) {
        let current = currentWatch.withLock { $0 === cancellation }
        if current { post(event) }
    }

    private func sleep(_ duration: Duration, unless cancellation: HTTPCancellation) {
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end, !cancellation.isCancelled { usleep(10_000) }
    }
}
