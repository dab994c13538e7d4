/// Exponential back-off with "equal jitter": each delay is half the current step plus a random
/// part of the other half, the step doubling up to `maximum`. Reset after a success only, so
/// repeated failures (of register, say) keep growing the delay.
///
/// ```swift
/// var backoff = Backoff(initial: .seconds(1), maximum: .seconds(60))
/// let wait = backoff.next()   // 0.5-1 s, then 1-2 s, 2-4 s ... up to 30-60 s
/// backoff.reset()
/// ```
struct Backoff: Sendable {
    let initial: Duration
    let maximum: Duration
    private(set) var step: Duration
    private(set) var failures = 0

    init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = max(initial, maximum)
        step = initial
    }

    mutating func next() -> Duration {
        let current = step
        failures += 1
        step = min(step * 2, maximum)
        let half = current / 2
        let jitter = Double.random(in: 0...1)
        return half + half * jitter
    }

    mutating func reset() {
        step = initial
        failures = 0
    }
}
