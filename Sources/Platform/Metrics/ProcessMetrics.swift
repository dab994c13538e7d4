/// The standard `process_*` metrics of Prometheus client libraries, computed at scrape time
/// from `/proc` (see `ProcessStats`).
///
/// ```swift
/// let registry = MetricsRegistry()
/// ProcessMetrics.register(in: registry)
/// // process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
/// // process_start_time_seconds, process_open_fds, process_max_fds
/// ```
public enum ProcessMetrics {
    /// Registers the six families; calling it twice just replaces the readers.
    public static func register(in registry: MetricsRegistry) {
        registry.counterFunction(
            "process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds."
        ) { series(ProcessStats.cpuSeconds()) }
        registry.gaugeFunction("process_resident_memory_bytes", help: "Resident memory size in bytes.") {
            series(ProcessStats.memory()?.resident)
        }
        registry.gaugeFunction("process_virtual_memory_bytes", help: "Virtual memory size in bytes.") {
            series(ProcessStats.memory()?.virtual)
        }
        // Constant for the life of the process: read once, not on every scrape.
        let start = ProcessStats.startTimeSeconds()
        registry.gaugeFunction(
            "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds."
        ) { series(start) }
        registry.gaugeFunction("process_open_fds", help: "Number of open file descriptors.") {
            series(ProcessStats.openFileDescriptors().map(Double.init))
        }
        registry.gaugeFunction("process_max_fds", help: "Maximum number of open file descriptors.") {
            series(ProcessStats.maxFileDescriptors())
        }
    }

    // An unreadable source exports no sample rather than a misleading zero.
    private static func series(_ value: Double?) -> [([String], Double)] {
        value.map { [([], $0)] } ?? []
    }
}
