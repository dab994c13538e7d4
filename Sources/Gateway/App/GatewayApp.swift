#if canImport(Glibc)
import Glibc
#endif
import Platform
import HTTPServer
import Synchronization
import TLS
import Dispatch

/// The gateway's request handling: `/code`, `/labels`, `/healthz`, `/metrics`. It owns the active
/// configuration snapshot (swapped whole on reload) and the drain flag; the HTTP server knows
/// nothing of it beyond the handler closure.
///
/// ```swift
/// let app = GatewayApp(configuration: config, snapshot: snap, logger: log, audit: audit)
/// let server = HTTPServer(configuration: httpConfig, logger: log) { app.handle($0) }
/// ```
final class GatewayApp: Sendable {

    let configuration: GatewayConfiguration
    let metrics: GatewayMetrics
    let logger: Logger
    let audit: AuditLog
    let limiter: RateLimiter
    /// Failed authentications per client address, bounded (a guessing loop from many
    /// addresses cannot grow it without limit).
    let authThrottle: RateLimiter
    let requestIDs = RequestIDs()
    /// The listener's TLS context and its reload; nil for plain HTTP.
    let tls: GatewayTLS?
    let wallClock: @Sendable () -> (seconds: Int64, nanoseconds: Int64)
    let monotonic: @Sendable () -> Double
    let clockStatus: @Sendable () -> ClockStatus
    /// The instance name as a JSON string, rendered once.
    let instanceJSON: [UInt8]
    /// The active snapshot with what requests resolve from it, swapped together.
    private let state: Mutex<ActiveConfiguration>
    private let drainingFlag = Atomic<Bool>(false)

    init(configuration: GatewayConfiguration, snapshot: GatewaySnapshot, logger: Logger, audit: AuditLog,
        registry: MetricsRegistry = MetricsRegistry(),
        wallClock: @escaping @Sendable () -> (seconds: Int64, nanoseconds: Int64) = Logger.wallClock,
        monotonic: @escaping @Sendable () -> Double = MonotonicClock.secondsNow,
        clockStatus: @escaping @Sendable () -> ClockStatus = { ClockStatus.read() })
    {
        self.configuration = configuration
        self.logger = logger
        self.audit = audit
        self.limiter = RateLimiter(limit: configuration.rateLimit)
        self.authThrottle = RateLimiter(limit: configuration.authFailureLimit, maxKeys: 10_000)
        self.metrics = GatewayMetrics(registry: registry, version: ProductVersion.current,
            perLabel: configuration.perLabelSeries(labels: snapshot.seeds.count), clockStatus: clockStatus)
        self.wallClock = wallClock
        self.monotonic = monotonic
        self.clockStatus = clockStatus
        var instance: [UInt8] = []
        JSONText.appendString(configuration.instance, to: &instance)
        self.instanceJSON = instance
        if let files = configuration.tlsFiles, let context = configuration.tls {
            tls = GatewayTLS(files: files, context: context)
        } else {
            tls = nil
        }
        self.state = Mutex(ActiveConfiguration(snapshot: snapshot, perLabel: metrics.perLabel, issued: metrics.activate(snapshot, previous: nil)))
        registry.counterFunction("gateway_audit_write_failures_total",
            help: "Audit lines that could not be written; each one's request got 503 and no code.") {
            [([], Double(audit.failures))]
        }
        registry.gaugeFunction("gateway_audit_failing", help: "1 while the last audit line could not be written.") {
            [([], audit.isFailing ? 1 : 0)]
        }
        let logSink = logger.sink
        registry.counterFunction("gateway_log_lines_dropped_total",
            help: "Log lines dropped because stderr was not read fast enough (the backlog was full) or failed.") {
            [([], Double(logSink.dropped))]
        }
    }

    var snapshot: GatewaySnapshot { state.withLock { $0.snapshot } }

    var active: ActiveConfiguration { state.withLock { $0 } }

    var isDraining: Bool { drainingFlag.load(ordering: .relaxed) }

    func startDraining() {
        drainingFlag.store(true, ordering: .relaxed)
        metrics.draining.set(1)
    }

    /// Swaps in a fully loaded snapshot. Everything is built before the lock is taken; under it
    /// only a reference changes hands, so requests never wait on a reload.
    func activate(_ next: GatewaySnapshot) {
        let previous = snapshot
        let active = ActiveConfiguration(snapshot: next, perLabel: metrics.perLabel, issued: metrics.activate(next, previous: previous))
        let retired = state.withLock { current in
            let old = current
            current = active
            return old
        }
        Self.retire(retired)
    }

    /// Frees a replaced configuration on a utility thread a second later. Whoever drops the last
    /// reference frees every label of it (milliseconds at 30,000 labels); released at once, that
    /// could be an event loop finishing a request that started before the swap.
    private static func retire(_ old: ActiveConfiguration) {
        retirement.asyncAfter(deadline: .now() + .seconds(1)) {
            withExtendedLifetime(old) {}
            // The block holds `old` until it returns; the heap is trimmed by the next block on
            // this serial queue, once it is really freed.
            retirement.async { HeapMemory.releaseFreePages() }
        }
    }

    private static let retirement = DispatchQueue(label: "gateway-config-retirement", qos: .utility)

    /// The HTTP handler: routes, measures and counts.
    func handle(_ request: HTTPRequest) -> HTTPResponse {
        let start = monotonic()
        let route: GatewayMetrics.Route
        let response: HTTPResponse
        switch request.path {
        case "/code":
            route = .code
            response = handleCode(request)
        case "/labels":
            route = .labels
            response = handleLabels(request)
        case "/healthz":
            route = .healthz
            response = handleHealth()
        case "/metrics":
            route = .metrics
            response = handleMetrics(request)
        default:
            route = .other
            response = Self.error(404, "not_found", "no such endpoint; try /code?label=LABEL, /labels, /healthz or /metrics")
        }
        metrics.requests(route: route, status: response.status).inc()
        metrics.duration(route).observe(monotonic() - start)
        return response
    }

    static let jsonHeaders: [(String, String)] = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]

    static func error(_ status: Int, _ code: String, _ message: String, extraHeaders: [(String, String)] = []) -> HTTPResponse {
        var body = "{\"error\":"
        JSONText.appendString(code, to: &body)
        body += ",\"message\":"
        JSONText.appendString(message, to: &body)
        body += "}"
        return HTTPResponse(status: status, headers: jsonHeaders + extraHeaders, body: Array(body.utf8))
    }
}
