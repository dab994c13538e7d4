import Platform

/// The gateway's metric families, registered once. Hot-path children are resolved up front so a
/// request costs a few atomic adds.
///
/// ```swift
/// let m = GatewayMetrics(registry: MetricsRegistry(), version: "1.0.0")
/// m.requests(route: .code, status: 200).inc()
/// ```
final class GatewayMetrics: Sendable {
    /// The fixed set of route labels (never the raw path, so series stay bounded).
    enum Route: String, CaseIterable, Sendable {
        case code = "/code"
        case healthz = "/healthz"
        case metrics = "/metrics"
        case other = "other"
        case labels = "/labels"

        /// Position in `allCases`, for array-indexed series.
        var index: Int {
            switch self {
            case .code: 0
            case .healthz: 1
            case .metrics: 2
            case .other: 3
            case .labels: 4
            }
        }
    }

    let registry: MetricsRegistry
    let requestsFamily: CounterFamily
    /// Duration series in `Route.allCases` order (an array: no hashing per request).
    private let durations: [Histogram]
    let codesIssued: CounterFamily
    /// One `gateway_codes_issued_total` series per label, or one for all (`GATEWAY_METRICS_PER_LABEL`).
    let perLabel: Bool
    let authFailures: CounterFamily
    let rateLimited: Counter
    let seedsLoaded: Gauge
    let seedsWeak: Gauge
    let generation: Gauge
    let configInfo: GaugeFamily
    let reloads: CounterFamily
    let lastReload: Gauge
    let draining: Gauge
    private let common: [Route: [Int: Counter]]
    /// The hottest series, without dictionary lookups.
    private let code200: Counter
    private let healthz200: Counter

    init(registry: MetricsRegistry, version: String, perLabel: Bool = true,
        clockStatus: @escaping @Sendable () -> ClockStatus = { ClockStatus.read() })
    {
        self.registry = registry
        self.perLabel = perLabel
        requestsFamily = registry.counter("gateway_requests_total", help: "HTTP requests by route and status.", labelNames: ["route", "status"])
        let histogram = registry.histogram("gateway_request_duration_seconds", help: "Time to handle a request, by route.",
            labelNames: ["route"], buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1])
        var d: [Histogram] = []
        var c: [Route: [Int: Counter]] = [:]
        for r in Route.allCases {
            precondition(r.index == d.count, "Route.index must follow allCases")
            d.append(histogram.labels(r.rawValue))
            // Pre-resolve the hot 200 series; unknown routes never answer 200.
            if r != .other { c[r] = [200: requestsFamily.labels(r.rawValue, "200")] }
        }
        durations = d
        common = c
        code200 = c[.code]![200]!
        healthz200 = c[.healthz]![200]!
        // Per label, the series name every label and when each was fetched: only behind a
        // metrics token, or when asked for.
        codesIssued = perLabel
            ? registry.counter("gateway_codes_issued_total", help: "Codes handed out, by label (bounded by the configured labels).", labelNames: ["label"])
            : registry.counter("gateway_codes_issued_total", help: "Codes handed out (GATEWAY_METRICS_PER_LABEL=1 splits it by label).")
        authFailures = registry.counter("gateway_auth_failures_total", help: "Refused /code and /labels (and token-protected /metrics) requests by reason.", labelNames: ["reason"])
        rateLimited = registry.counter("gateway_rate_limited_total", help: "Requests refused with 429 by the per-token rate limit.").labels()
        seedsLoaded = registry.gauge("gateway_seeds_loaded", help: "Seeds in the active configuration.").labels()
        seedsWeak = registry.gauge("gateway_seeds_weak", help: "Seeds shorter than 128 bits in the active configuration.").labels()
        generation = registry.gauge("gateway_config_generation", help: "Generation of the active configuration (1 at start, +1 per successful reload).").labels()
        configInfo = registry.gauge("gateway_config_info", help: "Fingerprint of the active labels and parameters (not the seeds); value is always 1.", labelNames: ["fingerprint"])
        reloads = registry.counter("gateway_reloads_total", help: "Configuration reloads by result.", labelNames: ["result"])
        _ = reloads.labels("success")
        _ = reloads.labels("failure")
        lastReload = registry.gauge("gateway_last_reload_timestamp_seconds", help: "Unix time of the last successful configuration load.").labels()
        draining = registry.gauge("gateway_draining", help: "1 while the instance drains before exiting.").labels()
        registry.gauge("gateway_build_info", help: "Build information; value is always 1.", labelNames: ["version"]).labels(version).set(1)
        registry.gaugeFunction("gateway_clock_synchronized", help: "1 when the kernel reports the clock synchronized (adjtimex).") {
            [([], clockStatus().synchronized ? 1 : 0)]
        }
        registry.gaugeFunction("gateway_clock_max_error_seconds", help: "Maximum clock error reported by adjtimex.") {
            [([], clockStatus().maxErrorSeconds)]
        }
        ProcessMetrics.register(in: registry)
    }

    func duration(_ route: Route) -> Histogram { durations[route.index] }

    func requests(route: Route, status: Int) -> Counter {
        if status == 200 {
            if route == .code { return code200 }
            if route == .healthz { return healthz200 }
        }
        return common[route]?[status] ?? requestsFamily.labels(route.rawValue, String(status))
    }

    /// Publishes a newly active snapshot; codes-issued series of removed labels are dropped.
    /// Returns the codes-issued counter of every label (one shared counter unless per label),
    /// for lock-free use on the request path. Linear in the labels, without sorting them.
    @discardableResult
    func activate(_ snapshot: GatewaySnapshot, previous: GatewaySnapshot?) -> (String) -> Counter {
        seedsLoaded.set(Double(snapshot.seeds.count))
        seedsWeak.set(Double(snapshot.seeds.weakCount))
        generation.set(Double(snapshot.generation))
        lastReload.set(Double(snapshot.loadedAt))
        if let previous {
            configInfo.remove(previous.seeds.fingerprint)
            if perLabel {
                for label in previous.seeds.entries.keys where snapshot.seeds.entries[label] == nil {
                    codesIssued.remove(label)
                }
            }
        }
        configInfo.labels(snapshot.seeds.fingerprint).set(1)
        if perLabel {
            let family = codesIssued
            return { family.labels($0) }
        }
        let all = codesIssued.labels()
        return { _ in all }
    }
}
