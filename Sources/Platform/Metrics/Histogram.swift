import Synchronization

/// One histogram series: counts observations into buckets by upper bound (inclusive), and
/// keeps their sum and count. Safe to share across threads (one lock per series).
///
/// ```swift
/// let latency = registry.histogram("request_duration_seconds", help: "Time to answer.",
///                                  buckets: [0.001, 0.01, 0.1]).labels()
/// latency.observe(0.004)
/// latency.observe(.milliseconds(20))
/// ```
public final class Histogram: Sendable {
    /// Bucket counts, sum and count, updated together under one lock.
    private struct State {
        // Per-bucket (not cumulative) counts; the last slot is the +Inf bucket.
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
    }

    /// Finite upper bounds, strictly increasing; `+Inf` is implicit.
    let upperBounds: [Double]
    private let state: Mutex<State>

    init(upperBounds: [Double]) {
        self.upperBounds = upperBounds
        self.state = Mutex(State(counts: [UInt64](repeating: 0, count: upperBounds.count + 1)))
    }

    /// Records one observation (for durations, in seconds).
    public func observe(_ seconds: Double) {
        // First bucket whose bound is >= the value; NaN lands in +Inf only, as in client_golang.
        var low = 0
        var high = upperBounds.count
        while low < high {
            let mid = (low + high) / 2
            if seconds <= upperBounds[mid] { high = mid } else { low = mid + 1 }
        }
        let index = low
        state.withLock { state in
            state.counts[index] += 1
            state.sum += seconds
            state.count += 1
        }
    }

    /// Records a duration in seconds.
    public func observe(_ duration: Duration) {
        observe(duration.inSeconds)
    }

    /// Number of observations so far.
    public var count: UInt64 { state.withLock { $0.count } }

    /// Sum of all observations so far.
    public var sum: Double { state.withLock { $0.sum } }

    /// Cumulative counts per bound (the last one is `+Inf`, equal to `count`), sum and count,
    /// taken together under the lock so a scrape is self-consistent.
    func snapshot() -> (cumulative: [UInt64], sum: Double, count: UInt64) {
        let (counts, sum, count) = state.withLock { ($0.counts, $0.sum, $0.count) }
        var running: UInt64 = 0
        let cumulative = counts.map { running += $0; return running }
        return (cumulative, sum, count)
    }
}
