/// The bot's leadership as one state machine: standing by, leading (with the Zulip queue the
/// session registered), stopping after SIGTERM step by step, or gone. A plain value: it takes
/// events with the current monotonic time and returns the actions to perform, does no I/O and
/// reads no clock, so every transition is unit-tested with made-up instants.
/// `LeadershipDriver` holds it under one lock and performs the actions.
///
/// The election source is pluggable (`LeaderElection`): it reports `.elected(token:)` (the lock
/// files' epoch today; an etcd leader key's create revision next), `.lost(reason:)` and
/// `.fenceDeadlinePassed`. The session reports its queue (`.registering`, `.registered`,
/// `.registrationFailed`, `.queueLost`) and asks before registering or polling. Because the
/// queue is part of this one state, a stop takes it along in the same step that ends the
/// leading: a registration still in flight then is waited for and its queue deleted, and
/// none can start afterwards, so no Zulip queue is left behind.
///
/// ```swift
/// var leadership = Leadership()
/// leadership.handle(.elected(token: 7), now: t0)                  // [.lead(token: 7)]
/// leadership.handle(.registering, now: t0)                         // [.register]
/// leadership.handle(.registered(queueID: "q1"), now: t0)           // [.poll(queueID: "q1")]
/// leadership.handle(.stopRequested(signal: "SIGTERM"), now: t1)
/// // [.announceStopping, .stopTakingEvents(signal: "SIGTERM"), .drainInFlight(until: t1 + 13 s)]
/// ```
struct Leadership: Sendable {
    typealias Instant = ContinuousClock.Instant

    /// The shutdown's time budget and how it is shared between the steps.
    struct Configuration: Sendable, Equatable {
        /// SIGTERM to exit: under the unit's TimeoutStopSec=20s, after which systemd kills.
        var shutdownBudget: Duration = .seconds(18)
        /// Kept for the edits, the queue and the lock when waiting for replies in flight (a
        /// reply takes at most the gateway deadline plus BOT_REPLY_DEADLINE_MS).
        var afterDrain: Duration = .seconds(5)
        /// Kept for the queue and the lock when doing the pending expiry edits.
        var afterEdits: Duration = .seconds(2)
        /// Kept for deleting a queue whose registration was still in flight at the stop.
        var afterRegistration: Duration = .seconds(1)
        /// Kept for the lock when deleting the queue.
        var afterQueue: Duration = .milliseconds(500)
        /// The DELETE of the queue gets at least this long, even late.
        var minimumDeleteTimeout: Duration = .milliseconds(500)
    }

    /// How the process stands, as `/healthz`, the metrics and the watchdog timer see it.
    enum Role: Sendable, Equatable {
        case standby
        case leader
        case stopping

        var name: String {
            switch self {
            case .standby: "standby"
            case .leader: "leader"
            case .stopping: "stopping"
            }
        }
    }

    /// The leader's Zulip event queue.
    enum Queue: Sendable, Equatable {
        case none
        /// `POST /register` is in flight: its queue may exist on the server any moment.
        case registering
        case registered(id: String)
    }

    /// The steps of a leader's shutdown, in order.
    enum Step: Sendable, Equatable {
        /// Replies in flight are finished (new events are no longer taken).
        case draining
        /// Pending expiry edits are done early.
        case flushingEdits
        /// A registration in flight at the stop is waited for, to delete its queue.
        case awaitingRegistration(until: Instant)
        case deletingQueue
    }

    /// A leader's shutdown: which signal, its deadline, the step and the queue it still owns.
    struct Shutdown: Sendable, Equatable {
        var signal: String
        var token: Int64
        var deadline: Instant
        var step: Step
        var queue: Queue
    }

    enum Phase: Sendable, Equatable {
        /// Waiting to be elected (the lock held elsewhere, or campaigning).
        case standby
        /// Elected with `token`: serving Zulip.
        case leading(token: Int64, queue: Queue)
        /// Stopping after a signal; still allowed to finish replies in flight.
        case stopping(Shutdown)
        /// Leadership gone while leading: acts no more, exits.
        case lost(reason: String)
        /// Done: exiting.
        case stopped
    }

    enum Event: Sendable, Equatable {
        /// The election source made this process leader: the lock files acquired (`token` is
        /// their epoch), or an etcd campaign won (the leader key's create revision).
        case elected(token: Int64)
        /// Leadership is gone: a lock file deleted or replaced, a newer epoch in the state
        /// file, an etcd lease that expired, a check before a reply that failed.
        case lost(reason: String)
        /// etcd: no keepalive went through in time, so another participant may be elected
        /// soon. The lock files never report it.
        case fenceDeadlinePassed
        /// The election source cannot work at all (flock failed).
        case electionFailed(reason: String)
        /// The session wants to `POST /register`.
        case registering
        case registered(queueID: String)
        /// The register call failed (a queue may still exist server-side if only the answer was
        /// lost; Zulip drops it after 10 minutes without a poll).
        case registrationFailed
        /// The session stopped using its queue: Zulip dropped it (`BAD_EVENT_QUEUE_ID`).
        case queueLost
        /// SIGTERM or SIGINT, with the process's one stop deadline (nil: `shutdownBudget` from now).
        case stopRequested(signal: String, deadline: Instant? = nil)
        /// The replies in flight are done (`complete`), or the wait for them timed out.
        case inFlightDrained(complete: Bool)
        case editsFlushed
        /// The DELETE of the queue returned (deleted or not).
        case queueDeleted
        /// Time passed: the deadlines are checked.
        case tick
    }

    /// Why the process ends, which decides its exit code.
    enum Exit: Sendable, Equatable {
        /// Stopped by `signal` after the documented steps (0).
        case stopped(signal: String, role: Role)
        /// A second signal while stopping (1).
        case stoppedNow(signal: String)
        /// Leadership lost while leading (1): the supervisor restarts this process as a standby,
        /// a clean way back with no half-torn-down session to reason about.
        case leadershipLost(reason: String)
        /// The election source failed (1).
        case electionFailed(reason: String)

        var code: Int32 {
            if case .stopped = self { return 0 }
            return 1
        }
    }

    enum Action: Sendable, Equatable {
        /// Become the leader of `token`: start the Zulip session.
        case lead(token: Int64)
        /// The session may `POST /register` (answer to `.registering`).
        case register
        /// The session may poll the queue it registered (answer to `.registered`).
        case poll(queueID: String)
        /// Tell systemd STOPPING=1.
        case announceStopping
        /// Take no more events; messages queued and not started are left to the next leader.
        case stopTakingEvents(signal: String)
        /// Wait for the replies in flight, at most until `until`; report `.inFlightDrained`.
        case drainInFlight(until: Instant)
        /// Do the pending expiry edits until `until`; report `.editsFlushed`.
        case flushEdits(until: Instant)
        /// Wait until the registration in flight ends (or `until`); report `.tick`.
        case awaitRegistration(until: Instant)
        /// The registration did not end in time: its queue, if Zulip made one, is left to Zulip's
        /// garbage collection (10 minutes without a poll).
        case abandonRegistration
        /// Delete the queue; report `.queueDeleted`.
        case deleteQueue(id: String, timeout: Duration)
        /// Give the election up (close the lock files, revoke the lease); `leader` when this
        /// process led, so the standby takes over now.
        case release(leader: Bool)
        case exit(Exit)
    }

    let configuration: Configuration
    private(set) var phase: Phase = .standby

    init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    var role: Role {
        switch phase {
        case .standby: .standby
        case .leading: .leader
        case .stopping, .lost, .stopped: .stopping
        }
    }

    /// True while leading: taking events, registering, answering.
    var isServing: Bool {
        if case .leading = phase { return true }
        return false
    }

    /// True while a leader may send or edit: leading, or finishing its replies while stopping.
    /// The election source is asked as well, right before each action (`LeaderElection.verify`).
    var mayAct: Bool {
        switch phase {
        case .leading, .stopping: true
        case .standby, .lost, .stopped: false
        }
    }

    /// The fencing token of the current leadership (the epoch with the lock files).
    var token: Int64? {
        switch phase {
        case .leading(let token, _): token
        case .stopping(let shutdown): shutdown.token
        case .standby, .lost, .stopped: nil
        }
    }

    /// The queue this leader owns, if any (also while stopping, until it is deleted).
    var queue: Queue {
        switch phase {
        case .leading(_, let queue): queue
        case .stopping(let shutdown): shutdown.queue
        case .standby, .lost, .stopped: .none
        }
    }

    mutating func handle(_ event: Event, now: Instant) -> [Action] {
        switch (phase, event) {
        // Election.
        case (.standby, .elected(let token)):
            phase = .leading(token: token, queue: .none)
            return [.lead(token: token)]
        case (.leading, .lost(let reason)), (.stopping, .lost(let reason)):
            phase = .lost(reason: reason)
            return [.exit(.leadershipLost(reason: reason))]
        case (.leading, .fenceDeadlinePassed), (.stopping, .fenceDeadlinePassed):
            let reason = "the fence deadline passed without a renewal of the leadership"
            phase = .lost(reason: reason)
            return [.exit(.leadershipLost(reason: reason))]
        case (.standby, .electionFailed(let reason)):
            phase = .stopped
            return [.exit(.electionFailed(reason: reason))]

        // The session's queue.
        case (.leading(let token, _), .registering):
            phase = .leading(token: token, queue: .registering)
            return [.register]
        case (.leading(let token, _), .registered(let id)):
            phase = .leading(token: token, queue: .registered(id: id))
            return [.poll(queueID: id)]
        case (.leading(let token, _), .registrationFailed), (.leading(let token, _), .queueLost):
            phase = .leading(token: token, queue: .none)
            return []
        case (.stopping(var shutdown), .registered(let id)):
            // Arrived after the stop: not polled, but deleted at the queue step.
            shutdown.queue = .registered(id: id)
            phase = .stopping(shutdown)
            return []
        case (.stopping(var shutdown), .registrationFailed), (.stopping(var shutdown), .queueLost):
            shutdown.queue = .none
            phase = .stopping(shutdown)
            return []

        // Stopping.
        case (.standby, .stopRequested(let signal, _)):
            phase = .stopped
            return [.announceStopping, .release(leader: false), .exit(.stopped(signal: signal, role: .standby))]
        case (.leading(let token, let queue), .stopRequested(let signal, let given)):
            // The queue moves into the shutdown in this one step: a registration that ends
            // later lands there, and no new one starts.
            let deadline = given ?? now + configuration.shutdownBudget
            phase = .stopping(Shutdown(signal: signal, token: token, deadline: deadline, step: .draining, queue: queue))
            return [.announceStopping, .stopTakingEvents(signal: signal), .drainInFlight(until: deadline - configuration.afterDrain)]
        case (.stopping, .stopRequested(let signal, _)):
            phase = .stopped
            return [.exit(.stoppedNow(signal: signal))]
        case (.stopping(var shutdown), .inFlightDrained) where shutdown.step == .draining:
            shutdown.step = .flushingEdits
            phase = .stopping(shutdown)
            return [.flushEdits(until: shutdown.deadline - configuration.afterEdits)]
        case (.stopping(let shutdown), .editsFlushed) where shutdown.step == .flushingEdits:
            return queueStep(shutdown, now: now)
        case (.stopping(let shutdown), .tick):
            guard case .awaitingRegistration(let until) = shutdown.step else { return [] }
            if shutdown.queue == .registering {
                guard now >= until else { return [] }
                return [.abandonRegistration] + finish(shutdown)
            }
            return queueStep(shutdown, now: now)
        case (.stopping(let shutdown), .queueDeleted) where shutdown.step == .deletingQueue:
            return finish(shutdown)

        default:
            // Late or repeated news (a lock won while stopping, a second loss, a registration
            // reported after the exit was decided): nothing to do.
            return []
        }
    }

    /// Deletes the queue the leader owns, waits first for one still being registered, or
    /// finishes when there is none.
    private mutating func queueStep(_ shutdown: Shutdown, now: Instant) -> [Action] {
        var next = shutdown
        switch shutdown.queue {
        case .registered(let id):
            next.step = .deletingQueue
            next.queue = .none
            phase = .stopping(next)
            let timeout = max(configuration.minimumDeleteTimeout, shutdown.deadline - now - configuration.afterQueue)
            return [.deleteQueue(id: id, timeout: timeout)]
        case .registering:
            let until = shutdown.deadline - configuration.afterRegistration
            next.step = .awaitingRegistration(until: until)
            phase = .stopping(next)
            return [.awaitRegistration(until: until)]
        case .none:
            return finish(shutdown)
        }
    }

    /// The last step: give the election up, then exit 0.
    private mutating func finish(_ shutdown: Shutdown) -> [Action] {
        phase = .stopped
        return [.release(leader: true), .exit(.stopped(signal: shutdown.signal, role: .leader))]
    }
}
