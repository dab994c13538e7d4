import Synchronization

/// One counter series: a value that only goes up. Safe to share across threads; `inc()` is a
/// single relaxed atomic add, so hot paths should keep the child and call it directly.
///
/// ```swift
/// let served = registry.counter("codes_served_total", help: "Codes served.").labels()
/// served.inc()
/// served.inc(by: 2.5)
/// served.value   // 3.5
/// ```
public final class Counter: ScalarMetric {
    // Whole increments (the common case) go to an integer so `inc()` never loops; fractional
    // amounts go to a Double kept as its bit pattern and updated by compare-and-swap.
    private let whole = Atomic<UInt64>(0)
    private let fractionBits = Atomic<UInt64>(Double(0).bitPattern)

    public init() {}

    public static var typeName: String { "counter" }

    /// Adds one.
    @inline(__always)
    public func inc() {
        whole.wrappingAdd(1, ordering: .relaxed)
    }

    /// Adds `amount`, which must not be negative (a counter never goes down).
    public func inc(by amount: Double) {
        precondition(amount >= 0, "a counter cannot be increased by \(amount); use a gauge")
        if amount == amount.rounded(.towardZero) && amount < 9_007_199_254_740_992 {
            whole.wrappingAdd(UInt64(amount), ordering: .relaxed)
            return
        }
        var current = fractionBits.load(ordering: .relaxed)
        while true {
            let next = (Double(bitPattern: current) + amount).bitPattern
            let (exchanged, original) = fractionBits.weakCompareExchange(
                expected: current, desired: next, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// The current total.
    public var value: Double {
        Double(whole.load(ordering: .relaxed)) + Double(bitPattern: fractionBits.load(ordering: .relaxed))
    }
}
