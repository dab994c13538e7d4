import Platform
import Crypto
import HTTPServer

extension GatewayApp {
    /// `GET /healthz`: 200 while serving, 503 while draining (so HAProxy takes the instance out),
    /// for `AuditLog.degradedSeconds` after an audit line could not be written, or, with
    /// `GATEWAY_REQUIRE_CLOCK_SYNC=1`, while the kernel clock is unsynchronized.
    /// Reports a label count, never label names (the endpoint is unauthenticated).
    func handleHealth() -> HTTPResponse {
        let snap = snapshot
        let clock = clockStatus()
        let status: String
        if isDraining {
            status = "draining"
        } else if audit.failingRecently {
            // Out of HAProxy's pool while audit lines cannot be written (every /code would be 503).
            status = "audit_failing"
        } else if configuration.requireClockSync && !clock.synchronized {
            status = "clock_unsynchronized"
        } else {
            status = "ok"
        }
        var body = "{\"status\":\"\(status)\",\"instance\":"
        JSONText.appendString(configuration.instance, to: &body)
        body += ",\"labels\":\(snap.seeds.count),\"config\":\"\(snap.seeds.fingerprint)\",\"generation\":\(snap.generation)"
        let maxError = clock.maxErrorSeconds.isFinite ? "\(clock.maxErrorSeconds)" : "null"
        body += ",\"clock\":{\"synchronized\":\(clock.synchronized),\"max_error_seconds\":\(maxError),\"state\":"
        JSONText.appendString(clock.state, to: &body)
        body += ",\"required\":\(configuration.requireClockSync)}"
        if let tls { body += ",\"tls\":{\"certificate_not_after\":\(tls.notAfter)}" }
        body += "}"
        return HTTPResponse(status: status == "ok" ? 200 : 503, headers: Self.jsonHeaders, body: Array(body.utf8))
    }

    /// `GET /metrics`: Prometheus text; with `GATEWAY_METRICS_TOKEN` a Bearer token is required.
    func handleMetrics(_ request: HTTPRequest) -> HTTPResponse {
        if let expected = configuration.metricsTokenHash {
            let header = request.headers["Authorization"] ?? ""
            let given = header.hasPrefix("Bearer ") ? Array(header.dropFirst(7).utf8) : []
            guard Crypto.constantTimeEqual(Crypto.sha256(given), expected) else {
                metrics.authFailures.labels("metrics_token").inc()
                return Self.error(401, "unauthorized", "send Authorization: Bearer <GATEWAY_METRICS_TOKEN>",
                    extraHeaders: [("WWW-Authenticate", "Bearer realm=\"metrics\"")])
            }
        }
        return HTTPResponse(status: 200, headers: [("Content-Type", MetricsRegistry.contentType), ("Cache-Control", "no-store")],
            body: Array(metrics.registry.render().utf8))
    }
}
