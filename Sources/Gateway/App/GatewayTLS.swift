#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Platform
import TLS

/// The listener's TLS state: the context new connections use (`store`, handed to the HTTP
/// server), the files it came from, and the reload that replaces it. A reload checks the new
/// pair exactly as start-up does (key private and matching, certificate not expired) before the
/// swap; on any error the pair in service stays and the failure is counted. Open connections
/// keep the context they started with.
///
/// ```swift
/// let tls = GatewayTLS(files: config.tlsFiles!, context: config.tls!)
/// try tls.reload()                 // on SIGHUP
/// tls.store.current.notAfter       // for /healthz and /metrics
/// ```
final class GatewayTLS: Sendable {
    let files: TLSFiles
    let store: TLSContextStore
    private let failures = Atomic<Int>(0)
    private let successes = Atomic<Int>(0)

    init(files: TLSFiles, context: TLSContext) {
        self.files = files
        self.store = TLSContextStore(context)
    }

    /// The certificate in service: its not-after time in Unix seconds.
    var notAfter: Int64 { store.current.notAfter }

    var reloadFailures: Int { failures.load(ordering: .relaxed) }
    var reloadSuccesses: Int { successes.load(ordering: .relaxed) }

    /// Loads and checks the files again and swaps the new context in; throws (and counts) when
    /// they are refused, leaving the current one serving. Returns the new context.
    @discardableResult
    func reload(now: Int64 = Int64(time(nil))) throws(ConfigProblem) -> TLSContext {
        var warnings: [ConfigProblem] = []
        let next: TLSContext
        do {
            next = try GatewayConfiguration.tlsContext(files, warnings: &warnings, now: now)
        } catch {
            failures.add(1, ordering: .relaxed)
            throw error
        }
        store.replace(with: next)
        successes.add(1, ordering: .relaxed)
        return next
    }

    /// `gateway_tls_*` figures, registered only when the listener speaks TLS.
    func register(in registry: MetricsRegistry, handshakeFailures: @escaping @Sendable () -> Int) {
        registry.gaugeFunction("gateway_tls_certificate_expiry_timestamp_seconds",
            help: "Not-after time of the TLS certificate in service (Unix seconds).") { [store] in
            [([], Double(store.current.notAfter))]
        }
        registry.counterFunction("gateway_tls_reloads_total",
            help: "TLS certificate and key reloads (SIGHUP) by result; on failure the pair in service stays.",
            labelNames: ["result"]) { [self] in
            [(["success"], Double(reloadSuccesses)), (["failure"], Double(reloadFailures))]
        }
        registry.counterFunction("gateway_tls_handshake_failures_total",
            help: "TLS handshakes that failed: not TLS, an old protocol, no or a foreign client certificate.") {
            [([], Double(handshakeFailures()))]
        }
    }
}
