/// Clock-discipline gauges read from `adjtimex()` at scrape time (see `ClockStatus`): TOTP
/// codes are only as right as the wall clock, so an alert can fire on an unsynchronized host.
///
/// ```swift
/// ClockMetrics.register(in: registry)
/// // clock_synchronized 0
/// // clock_max_error_seconds 16
/// // clock_estimated_error_seconds 16
/// ```
public enum ClockMetrics {
    /// Registers `clock_synchronized` (1 or 0), `clock_max_error_seconds` and
    /// `clock_estimated_error_seconds`. `read` is injectable for tests.
    public static func register(
        in registry: MetricsRegistry, read: @escaping @Sendable () -> ClockStatus = { ClockStatus.read() }
    ) {
        registry.gaugeFunction(
            "clock_synchronized", help: "1 when the kernel reports the clock synchronized (adjtimex), else 0."
        ) { [([], read().synchronized ? 1 : 0)] }
        registry.gaugeFunction(
            "clock_max_error_seconds", help: "Kernel maximum clock error bound in seconds (adjtimex maxerror)."
        ) { [([], read().maxErrorSeconds)] }
        registry.gaugeFunction(
            "clock_estimated_error_seconds", help: "Kernel estimated clock error in seconds (adjtimex esterror)."
        ) { [([], read().estimatedErrorSeconds)] }
    }
}
