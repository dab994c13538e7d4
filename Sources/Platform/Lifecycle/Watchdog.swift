import Dispatch
import Synchronization

/// The one place that feeds systemd's watchdog: every `SystemdNotifier.watchdogPingInterval`
/// it asks the program's health predicate and sends `WATCHDOG=1` only when it answers nil.
/// The predicate gets the stall limit, max(3 s, the watchdog timeout): progress older than
/// that is a stall (an event loop that has not turned, a Zulip loop that has not come back).
/// A withheld ping is logged once per unhealthy stretch. Without `WATCHDOG_USEC`, nothing runs.
///
/// ```swift
/// let watchdog = Watchdog(notifier: notifier, logger: logger) { limit in
///     server.stalledLoops(olderThan: limit) > 0 ? "an event loop has not turned" : nil
/// }
/// watchdog.start()   // at READY=1
/// ```
public final class Watchdog: Sendable {
    /// Why the process should not be reported alive, or nil when it is healthy.
    public typealias Health = @Sendable (_ stallLimit: Duration) -> String?

    private let notifier: SystemdNotifier
    private let logger: Logger?
    private let health: Health
    private let started = Atomic<Bool>(false)
    // Written once, by the `start` that wins `started`; kept only so the timer lives on.
    nonisolated(unsafe) private var timer: (any DispatchSourceTimer)?
    private let withheld = Mutex(false)

    public init(notifier: SystemdNotifier, logger: Logger?, health: @escaping Health) {
        self.notifier = notifier
        self.logger = logger
        self.health = health
    }

    /// The stall limit for a watchdog timeout `interval`.
    public static func stallLimit(for interval: Duration) -> Duration { max(.seconds(3), interval) }

    /// Starts pinging; true when this call started the timer (false without a watchdog, or
    /// when it runs already).
    @discardableResult
    public func start() -> Bool {
        guard let every = notifier.watchdogPingInterval, let interval = notifier.watchdogInterval else { return false }
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        let limit = Self.stallLimit(for: interval)
        let source = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "watchdog"))
        source.schedule(deadline: .now(), repeating: .nanoseconds(Int(max(every, .milliseconds(100)).nanosecondsClamped)))
        source.setEventHandler { [self] in tick(stallLimit: limit) }
        timer = source
        source.resume()
        return true
    }

    /// One check: ping when healthy, say once why not otherwise.
    func tick(stallLimit: Duration) {
        let problem = health(stallLimit)
        let wasWithheld = withheld.withLock { w -> Bool in
            defer { w = problem != nil }
            return w
        }
        if let problem {
            if !wasWithheld { logger?.error("watchdog_withheld", ["message": .string(problem + "; not pinging the systemd watchdog")]) }
            return
        }
        _ = try? notifier.watchdog()
    }
}
