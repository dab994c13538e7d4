/// One part of a program the lifecycle starts and stops: a listener, the audit log, the
/// leadership. Started in order; stopped in reverse order, each gracefully within the stop
/// deadline, or all at once after a second signal, a failure or the deadline.
///
/// ```swift
/// LifecycleService(name: "http",
///     start: { () throws(ServiceFailure) in try startListening() },
///     ready: { /* READY=1 is sent: begin what the supervisor may see as a started service's work */ },
///     stop: { stop in server.shutdown(gracePeriod: stop.deadline - .now) },
///     stopNow: { server.stopNow() })
/// ```
public struct LifecycleService: Sendable {
    /// What a graceful stop is given: the signal that asked for it and the one deadline of the
    /// whole stop (the lifecycle stops everything at once when it passes).
    public struct Stop: Sendable, Equatable {
        public let signal: String
        public let deadline: ContinuousClock.Instant

        public init(signal: String, deadline: ContinuousClock.Instant) {
            self.signal = signal
            self.deadline = deadline
        }
    }

    public let name: String
    /// Brings the service up; returns once it can serve (and be stopped).
    public let start: @Sendable () throws(ServiceFailure) -> Void
    /// Called once every service is up and `READY=1` is sent (a bot's campaign for the lock: a
    /// standby is a started service).
    public let ready: @Sendable () -> Void
    /// Stops gracefully; blocks until done (it runs on the lifecycle's stop thread).
    public let stop: @Sendable (Stop) -> Void
    /// Stops at once; must not block for long.
    public let stopNow: @Sendable () -> Void

    public init(name: String, start: @escaping @Sendable () throws(ServiceFailure) -> Void = {}, ready: @escaping @Sendable () -> Void = {},
                stop: @escaping @Sendable (Stop) -> Void = { _ in }, stopNow: @escaping @Sendable () -> Void = {}) {
        self.name = name
        self.start = start
        self.ready = ready
        self.stop = stop
        self.stopNow = stopNow
    }
}
