import Synchronization

/// One gauge series: a value that goes up and down. Safe to share across threads.
///
/// ```swift
/// let inFlight = registry.gauge("requests_in_flight", help: "Requests being served.").labels()
/// inFlight.inc()
/// defer { inFlight.dec() }
/// ```
public final class Gauge: ScalarMetric {
    // The Double is stored as its bit pattern: Atomic has no floating-point representation.
    private let bits = Atomic<UInt64>(Double(0).bitPattern)

    public init() {}

    public static var typeName: String { "gauge" }

    /// Replaces the value.
    public func set(_ value: Double) {
        bits.store(value.bitPattern, ordering: .relaxed)
    }

    /// Adds `amount` (default 1).
    public func inc(by amount: Double = 1) {
        var current = bits.load(ordering: .relaxed)
        while true {
            let next = (Double(bitPattern: current) + amount).bitPattern
            let (exchanged, original) = bits.weakCompareExchange(
                expected: current, desired: next, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// Subtracts `amount` (default 1).
    public func dec(by amount: Double = 1) {
        inc(by: -amount)
    }

    /// The current value.
    public var value: Double {
        Double(bitPattern: bits.load(ordering: .relaxed))
    }
}
