import HTTPServer

/// Why `/code` refused a request, and everything that follows from it, in one place: the HTTP
/// status and extra headers, the JSON `error` and `message`, the audit line's `outcome`, and the
/// metrics it counts in (Hummingbird's `HTTPResponseError` gives status, headers and body from one
/// type in the same way). Adding a refusal is one case here; the handler only throws it.
///
/// ```swift
/// let refusal = CodeRefusal.rateLimited(retryAfter: 3)
/// refusal.status         // 429
/// refusal.auditOutcome   // "refused_rate_limited"
/// refusal.response(requestID: "r1").headers   // Content-Type, Cache-Control, X-Request-ID, Retry-After
/// ```
enum CodeRefusal: Error, Equatable {
    /// The gateway has no client tokens (and is not in insecure demo mode).
    case noTokensConfigured
    /// The client's address failed to authenticate too often; its token is not even looked at.
    case authenticationThrottled(retryAfter: Int)
    case missingToken
    /// An `Authorization` header that is not `Bearer <secret>`.
    case notBearer
    case invalidToken
    /// The token's request budget is spent.
    case rateLimited(retryAfter: Int)
    /// The query is malformed; `problem` says how to fix it.
    case badRequest(problem: String)
    /// The token may not request this label (also for labels that do not exist, so a restricted
    /// token learns nothing).
    case forbiddenLabel
    /// No such label (only a token allowed every label learns this).
    case unknownLabel
    /// The audit line could not be written, so no code is handed out (fail closed).
    case auditUnavailable

    var status: Int {
        switch self {
        case .badRequest: 400
        case .noTokensConfigured, .missingToken, .notBearer, .invalidToken: 401
        case .forbiddenLabel: 403
        case .unknownLabel: 404
        case .authenticationThrottled, .rateLimited: 429
        case .auditUnavailable: 503
        }
    }

    /// The machine-readable `error` of the JSON body.
    var error: String {
        switch self {
        case .noTokensConfigured, .missingToken, .notBearer, .invalidToken: "unauthorized"
        case .authenticationThrottled: "too_many_failures"
        case .rateLimited: "rate_limited"
        case .badRequest: "bad_request"
        case .forbiddenLabel: "forbidden"
        case .unknownLabel: "not_found"
        case .auditUnavailable: "audit_unavailable"
        }
    }

    /// What the client should do, for the JSON `message`.
    var message: String {
        switch self {
        case .noTokensConfigured: "no client tokens are configured on this gateway; set GATEWAY_TOKENS"
        case .authenticationThrottled(let retryAfter):
            "too many failed authentications from this address; retry after \(retryAfter) s"
        case .missingToken: "send Authorization: Bearer <token>"
        case .notBearer: "use the Bearer scheme: Authorization: Bearer <token>"
        case .invalidToken: "the token is not valid"
        case .rateLimited(let retryAfter): "too many requests for this token; retry after \(retryAfter) s"
        case .badRequest(let problem): problem
        case .forbiddenLabel: "this token may not request this label"
        case .unknownLabel: "no such label"
        case .auditUnavailable:
            "the audit log cannot be written, so no code is handed out; retry shortly (the gateway log says why)"
        }
    }

    /// Headers besides the JSON ones and `X-Request-ID`.
    var headers: [(String, String)] {
        switch self {
        case .noTokensConfigured, .missingToken: [("WWW-Authenticate", "Bearer realm=\"totp-gateway\"")]
        case .notBearer: [("WWW-Authenticate", "Bearer realm=\"totp-gateway\", error=\"invalid_request\"")]
        case .invalidToken: [("WWW-Authenticate", "Bearer realm=\"totp-gateway\", error=\"invalid_token\"")]
        case .authenticationThrottled(let retryAfter), .rateLimited(let retryAfter): [("Retry-After", String(retryAfter))]
        case .auditUnavailable: [("Retry-After", String(AuditLog.degradedSeconds))]
        case .badRequest, .forbiddenLabel, .unknownLabel: []
        }
    }

    /// The `outcome` of the refusal's audit line; nil when no line can be written.
    var auditOutcome: String? {
        switch self {
        case .noTokensConfigured: "refused_no_tokens"
        case .authenticationThrottled: "refused_auth_throttled"
        case .missingToken: "refused_missing_token"
        case .notBearer: "refused_bad_scheme"
        case .invalidToken: "refused_invalid_token"
        case .rateLimited: "refused_rate_limited"
        case .badRequest: "refused_bad_request"
        case .forbiddenLabel: "refused_forbidden"
        case .unknownLabel: "refused_unknown_label"
        case .auditUnavailable: nil
        }
    }

    /// The `reason` label of `gateway_auth_failures_total`, for refusals that count there.
    var authFailureReason: String? {
        switch self {
        case .noTokensConfigured: "no_tokens_configured"
        case .authenticationThrottled: "throttled"
        case .missingToken: "missing_token"
        case .notBearer: "bad_scheme"
        case .invalidToken: "invalid_token"
        case .forbiddenLabel: "forbidden_label"
        case .rateLimited, .badRequest, .unknownLabel, .auditUnavailable: nil
        }
    }

    /// Counted in `gateway_rate_limited_total`.
    var isRateLimit: Bool {
        if case .rateLimited = self { return true }
        return false
    }

    func response(requestID: String) -> HTTPResponse {
        GatewayApp.error(status, error, message, extraHeaders: [("X-Request-ID", requestID)] + headers)
    }
}
