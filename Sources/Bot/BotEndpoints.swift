import Platform
import HTTPServer

/// The bot's own HTTP endpoints (on `BOT_LISTEN`). `/healthz`: 200 `{"status":"ok","role":...}`;
/// 503 while stopping, and for a leader that cannot save its state (`"status":"degraded"`, with
/// the reason): it answers no DM then. A leader also shows how long ago its event queue last
/// answered and the stuck-poll limit. Every answer names the election source (`lockfile` or
/// `etcd`) and, while leading, the fencing token (the epoch, or the etcd leader key's create
/// revision), and with etcd `"etcd":"unreachable"` while its last request failed. `/metrics`:
/// the Prometheus text.
///
/// ```swift
/// BotEndpoints.respond(to: request, role: .leader, stateFailure: nil, eventQueue: (nil, .seconds(100)), metrics: metrics)
/// ```
enum BotEndpoints {
    static func respond(to request: HTTPRequest, role: Leadership.Role, stateFailure: String?,
                        eventQueue: (lastAnswerAge: Duration?, limit: Duration)?, election: String = "lockfile", token: Int64? = nil,
                        etcdReachable: Bool? = nil, metrics: BotMetrics) -> HTTPResponse {
        switch request.path {
        case "/healthz":
            let degraded = role == .leader ? stateFailure : nil
            var body = "{\"status\":\"\(role == .stopping ? "stopping" : degraded == nil ? "ok" : "degraded")\",\"role\":\"\(role.name)\""
            body += ",\"election\":\"\(election)\""
            if let token { body += ",\"fencing_token\":\(token)" }
            // A standby that cannot reach etcd cannot take over; a leader stops within its lease.
            if etcdReachable == false { body += ",\"etcd\":\"unreachable\"" }
            if let degraded {
                body += ",\"reason\":\"state_not_writable\",\"message\":"
                JSONText.appendString("the leader's state cannot be saved, so no DM is answered: \(degraded)", to: &body)
            }
            if let eventQueue {
                if let age = eventQueue.lastAnswerAge { body += ",\"last_event_answer_age_seconds\":\(tenths(age))" }
                body += ",\"event_poll_limit_seconds\":\(tenths(eventQueue.limit))"
            }
            body += "}"
            let ok = role != .stopping && degraded == nil
            return HTTPResponse(status: ok ? 200 : 503, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
        case "/metrics":
            return HTTPResponse(status: 200, headers: [("Content-Type", MetricsRegistry.contentType)], body: Array(metrics.registry.render().utf8))
        default:
            return HTTPResponse.jsonError(status: 404, error: "not_found", message: "try /healthz or /metrics")
        }
    }

    /// Seconds to one decimal (cut, not rounded), as a JSON number.
    private static func tenths(_ d: Duration) -> Double { Double(d.inMilliseconds / 100) / 10 }
}
