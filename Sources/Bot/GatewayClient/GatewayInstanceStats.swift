/// Counters for one gateway instance, for `/metrics` or a status command.
///
/// ```swift
/// for s in gateway.instanceStats() where s.circuitOpen { log.warning("gateway_down", ["url": .string(s.url)]) }
/// ```
public struct GatewayInstanceStats: Sendable, Equatable {
    public var url: String
    /// Requests sent to this instance.
    public var attempts: Int
    /// Attempts it answered (200, or a 4xx, which is a valid answer too).
    public var successes: Int
    /// Attempts that met a transport error, a 5xx or an unreadable answer.
    public var failures: Int
    /// Of the failures, 200 answers refused as unsound (`GatewayCode.problem`).
    public var invalidAnswers: Int
    /// Times a request moved on from this instance to another after it failed.
    public var failoversAway: Int
    /// True while the instance is being skipped (cooling down or being probed).
    public var circuitOpen: Bool

    public init(url: String, attempts: Int, successes: Int, failures: Int, invalidAnswers: Int = 0, failoversAway: Int, circuitOpen: Bool) {
        self.url = url
        self.attempts = attempts
        self.successes = successes
        self.failures = failures
        self.invalidAnswers = invalidAnswers
        self.failoversAway = failoversAway
        self.circuitOpen = circuitOpen
    }
}
