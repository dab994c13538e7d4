#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Platform
import HTTPServer
import Synchronization

/// Holds the bot's one `Leadership` state machine under one lock and performs its actions:
/// it feeds the election source's news, the stop and the session's queue reports to the
/// machine, and does what it answers (start the session, the shutdown steps, release). It is
/// the leadership service of the bot's lifecycle (`ServiceGroup`): `stop` runs the leader's
/// shutdown steps within the lifecycle's one deadline, and a lost leadership or a failed
/// election is a failure the lifecycle ends the process with (exit 1). The steps that block
/// (waiting for replies, edits, a registration, the queue's DELETE) run one after the other on
/// a queue of their own.
///
/// ```swift
/// let driver = LeadershipDriver(election: lock, logger: logger, metrics: metrics, notifier: notifier, fail: group.fail)
/// let session = LeaderSession(..., leadership: driver)
/// driver.start(crew: .init(session: session, editor: editor))
/// driver.stop(signal: "SIGTERM", deadline: deadline)     // the lifecycle's graceful stop
/// ```
final class LeadershipDriver: Sendable {
    /// What the actions act on; given once, by `start`, since the session needs the driver first.
    struct Crew: Sendable {
        let session: LeaderSession
        let editor: ExpiryEditor
    }

    private let machine: Mutex<Leadership>
    private let election: any LeaderElection
    private let crew = Mutex<Crew?>(nil)
    private let now: @Sendable () -> ContinuousClock.Instant
    private let logger: Logger
    private let metrics: BotMetrics
    private let notifier: SystemdNotifier
    private let fail: @Sendable (ServiceFailure) -> Never
    private let steps = DispatchQueue(label: "bot-shutdown")
    /// Signalled when the machine says the stop is done.
    private let stopped = DispatchSemaphore(value: 0)
    /// The role the stop found (for the lifecycle's `stopped` line).
    private let roleAtStop = Mutex<Leadership.Role?>(nil)

    /// `fail` ends the process (the lifecycle's `ServiceGroup.fail`) when leadership is lost or
    /// the election cannot work.
    init(election: any LeaderElection, configuration: Leadership.Configuration = Leadership.Configuration(), logger: Logger,
         metrics: BotMetrics, notifier: SystemdNotifier, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
         fail: @escaping @Sendable (ServiceFailure) -> Never) {
        machine = Mutex(Leadership(configuration: configuration))
        self.election = election
        self.now = now
        self.logger = logger
        self.metrics = metrics
        self.notifier = notifier
        self.fail = fail
    }

    var role: Leadership.Role { machine.withLock { $0.role } }

    /// The fencing token of the current leadership (lock files: the epoch; etcd: the leader
    /// key's create revision), nil unless leading.
    var token: Int64? { machine.withLock { $0.token } }

    /// The role when the stop was done (standby or leader), once it is.
    var stoppedAs: Leadership.Role? { roleAtStop.withLock { $0 } }

    /// True while leading: taking events, registering, answering.
    var isServing: Bool { machine.withLock { $0.isServing } }

    /// Starts the campaign (not once a stop has begun).
    func start(crew: Crew) {
        guard machine.withLock({ $0.role == .standby }) else { return }
        self.crew.withLock { $0 = crew }
        election.campaign { [self] event in handle(event) }
    }

    /// The graceful stop: a standby gives the election up; a leader stops taking events,
    /// finishes its replies, does its pending edits, deletes its queue and releases the lock,
    /// all by `deadline`. Returns when done, or at the deadline (the lifecycle then stops the
    /// rest at once).
    func stop(signal: String, deadline: ContinuousClock.Instant) {
        handle(.stopRequested(signal: signal, deadline: deadline))
        let wait = deadline - now()
        _ = stopped.wait(timeout: .now() + .nanoseconds(Int(wait.nanosecondsClamped)))
    }

    /// Feeds `event` to the machine and performs its actions; returns them, so that the session
    /// sees whether it may register (`.register`) or poll (`.poll`).
    @discardableResult
    func handle(_ event: Leadership.Event) -> [Leadership.Action] {
        let actions = machine.withLock { $0.handle(event, now: now()) }
        for action in actions { perform(action) }
        return actions
    }

    /// Whether this process may send or edit now: the machine says it leads (or is finishing
    /// its replies) and the election source still agrees. A disagreement is a lost leadership.
    func mayAct() -> Bool {
        guard machine.withLock({ $0.mayAct }) else { return false }
        guard let problem = election.verify() else { return true }
        handle(.lost(reason: problem))
        return false
    }

    private func perform(_ action: Leadership.Action) {
        let crew = crew.withLock { $0 }
        switch action {
        case .lead(let token):
            metrics.leader.set(1)
            metrics.epoch.set(Double(token))
            _ = try? notifier.status("leader (epoch \(token))")
            logger.info("leader", ["epoch": .int(Int(token)), "pid": .int(Int(getpid())), "host": .string(HostName.current ?? "unknown")])
            guard let session = crew?.session else { return }
            // The Zulip loop gets a thread of its own: the source's thread keeps campaigning.
            NamedThread.detach(name: "zulip") { session.run(epoch: Int(token)) }
        case .register, .poll:
            break
        case .announceStopping:
            // The lifecycle said STOPPING=1 when the signal came.
            break
        case .stopTakingEvents(let signal):
            crew?.session.stopTakingEvents()
            logger.info("shutdown_events_stopped", ["signal": .string(signal)])
        case .drainInFlight(let until):
            steps.async { [self] in
                let finished = crew?.session.waitForInFlight(timeout: until - now()) ?? true
                logger.info("shutdown_inflight_finished", ["complete": .bool(finished)])
                handle(.inFlightDrained(complete: finished))
            }
        case .flushEdits(let until):
            steps.async { [self] in
                let (edited, left) = crew?.editor.flush(until: until) ?? (0, 0)
                logger.info("shutdown_edits_flushed", ["edited": .int(edited), "left": .int(left)])
                if left > 0 {
                    logger.warning("expiry_edits_left", ["count": .int(left), "message": "not done in time; they stay in BOT_STATE_DIR for the next leader"])
                }
                handle(.editsFlushed)
            }
        case .awaitRegistration(let until):
            steps.async { [self] in
                logger.info("shutdown_awaiting_registration", ["message": "a queue registration is in flight; waiting for it to delete its queue"])
                while now() < until, machine.withLock({ $0.queue == .registering }) { Sleep.for(.milliseconds(5)) }
                handle(.tick)
            }
        case .abandonRegistration:
            logger.warning("shutdown_registration_unfinished", [
                "message": "the queue registration did not end in time; a queue Zulip made for it is dropped by Zulip after 10 minutes without a poll",
            ])
        case .deleteQueue(let id, let timeout):
            steps.async { [self] in
                let deleted = crew?.session.deleteQueue(id, timeout: timeout) ?? false
                logger.info("shutdown_queue_deleted", ["queue_id": .string(id), "deleted": .bool(deleted)])
                handle(.queueDeleted)
            }
        case .release(let leader):
            if leader { metrics.leader.set(0) }
            election.release()
            if leader { logger.info("shutdown_lock_released", [:]) }
        case .exit(let reason):
            finish(reason)
        }
    }

    /// The machine's end: a finished stop goes back to the lifecycle, which stops the rest and
    /// exits 0; a lost leadership or a failed election ends the process (1).
    private func finish(_ reason: Leadership.Exit) {
        switch reason {
        case .stopped(_, let role):
            roleAtStop.withLock { $0 = role }
            stopped.signal()
        case .stoppedNow:
            // Only a second stop request says this; the lifecycle stops at once itself.
            break
        case .leadershipLost(let why):
            metrics.leader.set(0)
            logger.error("leader_lock_lost", [
                "reason": .string(why),
                "message": "another bot may lead now, so this one stops answering and exits (1) for its supervisor to restart it as a standby; never delete or replace BOT_LOCK_FILE or BOT_STATE_DIR/leader.lock while bots run",
            ])
            fail(ServiceFailure(code: reason.code, message: "totp-bot: lost the leader lock: \(why)"))
        case .electionFailed(let failure):
            logger.error("lock_failed", ["error": .string(failure)])
            fail(ServiceFailure(code: reason.code, message: "totp-bot: \(failure)"))
        }
    }
}
