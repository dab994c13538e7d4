/// A program's life as one state machine, in the spirit of swift-service-lifecycle's
/// `ServiceGroup`: preparing (settings being read), starting its services in order, running,
/// stopping them in reverse order, exited. A plain value: it takes events with the current
/// monotonic time and returns the actions to perform; `ServiceGroup` performs them. So every
/// rule below is unit-tested with made-up instants:
/// - the first SIGTERM/SIGINT stops gracefully within one deadline (`stopTimeout`); a second
///   one, the deadline passing, or a failure stops what is still up at once;
/// - services stop in reverse start order, one after the other;
/// - `READY=1` only once every service is up (and the signals are handled from the start);
/// - SIGHUP reloads while running (one that came during the start reloads once running);
/// - the exit code is decided here (`ProcessExit`).
///
/// ```swift
/// var life = ProcessLifecycle()
/// life.handle(.begin(services: 2, stopTimeout: .seconds(18)), now: t0)   // [.start(index: 0)]
/// life.handle(.started(index: 0), now: t0)          // [.start(index: 1)]
/// life.handle(.started(index: 1), now: t0)          // [.notifyReady]
/// life.handle(.signal(.terminate), now: t1)
/// // [.notifyStopping(signal: "SIGTERM", deadline: t1 + 18 s), .stop(index: 1, ...)]
/// ```
public struct ProcessLifecycle: Sendable {
    public typealias Instant = ContinuousClock.Instant

    /// A graceful stop under way: its signal and its one deadline.
    public struct StopRequest: Sendable, Equatable {
        public let signal: String
        public let deadline: Instant
    }

    /// Where the process stands.
    public enum Phase: Sendable, Equatable {
        /// Reading settings; nothing started yet.
        case preparing
        /// Services `0..<started` are up and the next one is starting; `stop` is a stop asked
        /// for meanwhile, begun as soon as that start returns.
        case starting(started: Int, stop: StopRequest?)
        /// Every service is up.
        case running
        /// Services `0..<remaining` are still up; the last of them is being stopped.
        case stopping(StopRequest, remaining: Int)
        case exited(ProcessExit)
    }

    /// What happened: a start or stop that returned, a signal, a failure, time passing.
    public enum Event: Sendable, Equatable {
        /// The settings are read; `services` are to be started, and a stop may take
        /// `stopTimeout` from the first signal to the exit.
        case begin(services: Int, stopTimeout: Duration)
        /// The service being started is up.
        case started(index: Int)
        /// The service being started could not start.
        case startFailed(ServiceFailure)
        case signal(UnixSignal)
        /// The service being stopped has stopped.
        case stopped(index: Int)
        /// Something cannot go on (settings refused, leadership lost, credentials rejected).
        case failed(ServiceFailure)
        /// Time passed: the stop deadline is checked.
        case tick
    }

    /// What `ServiceGroup` does next.
    public enum Action: Sendable, Equatable {
        case start(index: Int)
        /// `READY=1`, and the watchdog starts.
        case notifyReady
        case reload
        /// `STOPPING=1`; `deadline` is when the stop turns into an immediate one.
        case notifyStopping(signal: String, deadline: Instant)
        /// Stop this service gracefully, then report `.stopped(index:)`.
        case stop(index: Int, LifecycleService.Stop)
        /// Stop `stoppingNow` at once (in this order), then exit with the code of `exit`.
        case exit(ProcessExit, stoppingNow: [Int])
    }

    public private(set) var phase: Phase = .preparing
    /// The whole graceful stop, from the first signal to the exit.
    private var stopTimeout: Duration = .zero
    private var count = 0
    private var reloadPending = false

    public init() {}

    public mutating func handle(_ event: Event, now: Instant) -> [Action] {
        switch (phase, event) {
        case (.exited, _):
            return []

        // Failures: whatever is up stops at once.
        case (_, .failed(let failure)):
            return end(.failed(failure), stoppingNow: up)

        // Preparing.
        case (.preparing, .begin(let services, let timeout)):
            count = services
            stopTimeout = timeout
            if services == 0 { return ready() }
            phase = .starting(started: 0, stop: nil)
            return [.start(index: 0)]
        case (.preparing, .signal(let signal)) where signal.stops:
            // Nothing to stop: the graceful stop is done at once.
            return end(.stopped(signal: signal.name), stoppingNow: [])

        // Starting.
        case (.starting(let started, let stop), .started(let index)) where index == started:
            if let stop {
                phase = .stopping(stop, remaining: started + 1)
                return [.stop(index: started, LifecycleService.Stop(signal: stop.signal, deadline: stop.deadline))]
            }
            if started + 1 < count {
                phase = .starting(started: started + 1, stop: nil)
                return [.start(index: started + 1)]
            }
            return ready()
        case (.starting(let started, _), .startFailed(let failure)):
            return end(.failed(failure), stoppingNow: Array((0..<started).reversed()))
        case (.starting(let started, nil), .signal(let signal)) where signal.stops:
            let request = StopRequest(signal: signal.name, deadline: now + stopTimeout)
            phase = .starting(started: started, stop: request)
            return [.notifyStopping(signal: request.signal, deadline: request.deadline)]
        case (.starting(let started, .some), .signal(let signal)) where signal.stops:
            return end(.stoppedNow(signal: signal.name), stoppingNow: Array((0..<started).reversed()))
        case (.starting(let started, let stop?), .tick) where now >= stop.deadline:
            return end(.deadlinePassed(signal: stop.signal), stoppingNow: Array((0..<started).reversed()))

        // Running.
        case (.running, .signal(.hangup)):
            return [.reload]
        case (.running, .signal(let signal)):
            let request = StopRequest(signal: signal.name, deadline: now + stopTimeout)
            phase = .stopping(request, remaining: count)
            return [.notifyStopping(signal: request.signal, deadline: request.deadline),
                    .stop(index: count - 1, LifecycleService.Stop(signal: request.signal, deadline: request.deadline))]

        // Stopping, last started first.
        case (.stopping(let request, let remaining), .stopped(let index)) where index == remaining - 1:
            if index == 0 { return end(.stopped(signal: request.signal), stoppingNow: []) }
            phase = .stopping(request, remaining: index)
            return [.stop(index: index - 1, LifecycleService.Stop(signal: request.signal, deadline: request.deadline))]
        case (.stopping, .signal(let signal)) where signal.stops:
            return end(.stoppedNow(signal: signal.name), stoppingNow: up)
        case (.stopping(let request, _), .tick) where now >= request.deadline:
            return end(.deadlinePassed(signal: request.signal), stoppingNow: up)

        case (.preparing, .signal(.hangup)), (.starting, .signal(.hangup)):
            // The settings may have changed while they were read: reload once running.
            reloadPending = true
            return []

        default:
            // A SIGHUP while stopping, a tick before the deadline, news that is late or out
            // of order: nothing to do.
            return []
        }
    }

    /// The services that are up, last started first (the one still starting is not).
    private var up: [Int] {
        switch phase {
        case .preparing, .exited: []
        case .starting(let started, _): Array((0..<started).reversed())
        case .running: Array((0..<count).reversed())
        case .stopping(_, let remaining): Array((0..<remaining).reversed())
        }
    }

    private mutating func ready() -> [Action] {
        phase = .running
        defer { reloadPending = false }
        return reloadPending ? [.notifyReady, .reload] : [.notifyReady]
    }

    private mutating func end(_ reason: ProcessExit, stoppingNow: [Int]) -> [Action] {
        phase = .exited(reason)
        return [.exit(reason, stoppingNow: stoppingNow)]
    }
}
