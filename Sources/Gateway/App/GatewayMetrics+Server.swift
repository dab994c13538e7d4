import Platform
import HTTPServer

/// The HTTP server's own figures in the gateway's `/metrics`: open connections, requests in
/// flight, what it refused or timed out on by itself, and the secret files only warned about.
///
/// ```swift
/// app.metrics.attach(server: server, insecureFiles: { warnings.count })
/// ```
extension GatewayMetrics {
    func attach(server: HTTPServer, insecureFiles: @escaping @Sendable () -> Int) {
        registry.gaugeFunction("gateway_open_connections", help: "Open client connections.") {
            [([], Double(server.openConnections))]
        }
        registry.gaugeFunction("gateway_inflight_requests", help: "Requests being processed.") {
            [([], Double(server.inFlightRequests))]
        }
        registry.counterFunction(
            "gateway_http_refused_total", help: "Requests the HTTP server answered itself with an error (malformed, too large, wrong method), by status.",
            labelNames: ["status"]
        ) {
            server.statistics.refusals.map { ([String($0.key)], Double($0.value)) }
        }
        registry.counterFunction(
            "gateway_http_timeouts_total", help: "Connections closed by a timeout: header (slow request head), idle (keep-alive), write (slow reader).",
            labelNames: ["kind"]
        ) {
            server.statistics.timeouts.map { ([$0.key], Double($0.value)) }
        }
        registry.counterFunction(
            "gateway_http_connections_rejected_total", help: "Connections closed at once because the open-connection cap was reached and none was idle."
        ) {
            [([], Double(server.statistics.connectionsRejected))]
        }
        registry.counterFunction(
            "gateway_http_client_connections_rejected_total",
            help: "Connections closed at once because their client address had GATEWAY_MAX_CONNECTIONS_PER_CLIENT open."
        ) {
            [([], Double(server.statistics.connectionsRejectedPerClient))]
        }
        registry.counterFunction(
            "gateway_http_connections_evicted_total", help: "Idle connections closed to make room for a new one at the open-connection cap."
        ) {
            [([], Double(server.statistics.connectionsEvicted))]
        }
        registry.gaugeFunction("gateway_insecure_files",
            help: "Secret files readable by group or others that were only warned about (plaintext seeds, container secrets); see the insecure_file_mode log lines.") {
            [([], Double(insecureFiles()))]
        }
    }
}
