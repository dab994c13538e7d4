#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// Runs a program's lifecycle: holds its `ProcessLifecycle` under one lock and performs what it
/// answers. Created first thing in a program's `run`, so the signals are handled before
/// anything else starts; then the settings are read (`refuse` if they are wrong), and `run`
/// starts the services, tells systemd `READY=1`, feeds the watchdog (`Watchdog`), reloads on
/// SIGHUP, stops the services in reverse order, and exits. The only `exit` of a running program
/// is here.
///
/// ```swift
/// let group = ServiceGroup(program: "totp-gateway", signals: [.terminate, .interrupt, .hangup])
/// let config: Config
/// do { config = try Config.load() } catch { group.refuse(ServiceFailure(code: 2, message: "...")) }
/// group.run(services: [audit, http, drain], logger: logger, stopTimeout: .seconds(15),
///           reload: { reloadSeeds() }, health: { limit in server.stalledLoops(olderThan: limit) > 0 ? "stalled" : nil })
/// ```
public final class ServiceGroup: Sendable {
    /// What `run` was given; set once.
    private struct Running: Sendable {
        let services: [LifecycleService]
        let logger: Logger
        let reload: (@Sendable () -> Void)?
        let watchdog: Watchdog
        let stoppedFields: @Sendable () -> [String: LogValue]
    }

    public let program: String
    private let machine: Mutex<ProcessLifecycle>
    private let running = Mutex<Running?>(nil)
    private let notifier: SystemdNotifier
    private let now: @Sendable () -> ContinuousClock.Instant
    private let terminate: @Sendable (Int32) -> Never
    /// Graceful stops block; they run here, one after the other, so signals are still handled.
    private let stops = DispatchQueue(label: "lifecycle-stop")
    private let reloads = DispatchQueue(label: "lifecycle-reload")
    private let reloadQueued = Atomic<Bool>(false)

    /// Blocks `signals` and starts taking them: call before anything else of the program runs.
    public init(program: String, signals: [UnixSignal] = [.terminate, .interrupt],
                notifier: SystemdNotifier = SystemdNotifier(), now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
                terminate: @escaping @Sendable (Int32) -> Never = { Glibc.exit($0) }) {
        self.program = program
        machine = Mutex(ProcessLifecycle())
        self.notifier = notifier
        self.now = now
        self.terminate = terminate
        UnixSignals.start(signals) { [self] signal in handle(.signal(signal)) }
    }

    /// The settings (or a resource they name) are refused: print why and exit with its code.
    public func refuse(_ failure: ServiceFailure) -> Never {
        fail(failure)
    }

    /// A service cannot go on (from any thread): what is up stops at once, `failure.message` is
    /// printed, and the process exits with `failure.code`.
    public func fail(_ failure: ServiceFailure) -> Never {
        handle(.failed(failure))
        // The exit is under way on another thread.
        while true { Sleep.for(.seconds(3600)) }
    }

    /// Starts `services` in order, then serves until a signal or a failure ends the process.
    /// `stopTimeout` is the whole graceful stop, from the first signal to the exit; `health` is
    /// the watchdog's predicate; `stoppedFields` adds to the `stopped` log line.
    public func run(services: [LifecycleService], logger: Logger, stopTimeout: Duration, reload: (@Sendable () -> Void)? = nil,
                    health: @escaping Watchdog.Health = { _ in nil },
                    stoppedFields: @escaping @Sendable () -> [String: LogValue] = { [:] }) -> Never {
        running.withLock {
            precondition($0 == nil, "ServiceGroup.run called twice")
            $0 = Running(services: services, logger: logger, reload: reload,
                         watchdog: Watchdog(notifier: notifier, logger: logger, health: health), stoppedFields: stoppedFields)
        }
        handle(.begin(services: services.count, stopTimeout: stopTimeout))
        // Everything else happens on the signal, stop, reload and service threads. Not
        // dispatchMain(): it unblocks the signals in this thread, where SIGTERM's default
        // action would then kill the process instead of reaching the signal thread.
        while true { Sleep.for(.seconds(3600)) }
    }

    /// Feeds `event` to the machine and performs its actions.
    private func handle(_ event: ProcessLifecycle.Event) {
        let actions = machine.withLock { $0.handle(event, now: now()) }
        for action in actions { perform(action) }
    }

    private func perform(_ action: ProcessLifecycle.Action) {
        let running = running.withLock { $0 }
        switch action {
        case .start(let index):
            guard let service = running?.services[index] else { return }
            do throws(ServiceFailure) {
                try service.start()
                handle(.started(index: index))
            } catch {
                handle(.startFailed(error))
            }
        case .notifyReady:
            _ = try? notifier.ready()
            running?.watchdog.start()
            for service in running?.services ?? [] { service.ready() }
        case .reload:
            guard let reload = running?.reload else { return }
            // SIGHUPs that arrive while one is queued fold into it; one that arrives during a
            // reload queues another (the files may have changed again). A reload stuck on a
            // slow file system never holds up a stop: it has a queue of its own.
            if reloadQueued.exchange(true, ordering: .acquiringAndReleasing) { return }
            reloads.async { [self] in
                reloadQueued.store(false, ordering: .releasing)
                reload()
            }
        case .notifyStopping(_, let deadline):
            _ = try? notifier.stopping()
            // Not on the stop queue: a service still stopping at the deadline keeps it busy.
            let wait = deadline - now()
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(wait.nanosecondsClamped))) { [self] in handle(.tick) }
        case .stop(let index, let stop):
            guard let service = running?.services[index] else { return }
            stops.async { [self] in
                service.stop(stop)
                handle(.stopped(index: index))
            }
        case .exit(let reason, let stoppingNow):
            finish(reason, stoppingNow: stoppingNow, running: running)
        }
    }

    private func finish(_ reason: ProcessExit, stoppingNow: [Int], running: Running?) -> Never {
        let logger = running?.logger
        switch reason {
        case .stopped(let signal):
            var fields = running?.stoppedFields() ?? [:]
            fields["signal"] = .string(signal)
            logger?.info("stopped", fields)
        case .stoppedNow(let signal):
            logger?.warning("stopping_now", ["signal": .string(signal)])
        case .deadlinePassed(let signal):
            logger?.error("stop_deadline_passed", ["signal": .string(signal),
                "message": "the graceful stop did not finish in time; stopping what is left at once"])
        case .failed:
            break
        }
        for index in stoppingNow { running?.services[index].stopNow() }
        if case .failed(let failure) = reason { StandardError.print(failure.message) }
        LogSink.standardError.drain(timeout: stoppingNow.isEmpty ? .seconds(2) : .milliseconds(500))
        terminate(reason.code)
    }
}
