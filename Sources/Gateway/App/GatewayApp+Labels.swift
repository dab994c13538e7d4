import Platform
import HTTPServer

extension GatewayApp {
    /// `GET /labels` with `Authorization: Bearer <secret>`: the labels this token may request,
    /// each with its algorithm, digits and period (never a seed, never a code), sorted:
    /// `{"labels":[{"label":"certus","algorithm":"SHA1","digits":6,"period":30}],"instance":"gw-a"}`.
    /// Refusals as for `/code`: 401 (no, malformed or unknown token), 429 (too many failed
    /// authentications from the address, or the token's rate limit), and 403 when the token may
    /// request none of the labels this gateway has. No audit line: no code is handed out.
    func handleLabels(_ request: HTTPRequest) -> HTTPResponse {
        let active = self.active
        let snap = active.snapshot
        let requestID = requestIDs.resolve(incoming: request.headers["X-Request-ID"])
        let idHeader = [("X-Request-ID", requestID)]
        let token: ClientToken?
        switch authenticateClient(request, tokens: snap.tokens) {
        case .refused(let response): return response.with(headers: idHeader)
        case .anonymous: token = nil
        case .token(let t): token = t
        }
        if case .limited(let retryAfter) = limiter.take(token?.name ?? "-", now: monotonic()) {
            metrics.rateLimited.inc()
            return Self.error(429, "rate_limited", "too many requests for this token; retry after \(retryAfter) s",
                extraHeaders: idHeader + [("Retry-After", String(retryAfter))])
        }
        let entries = snap.seeds.entries.filter { token?.allows($0.key) ?? true }.sorted { $0.key < $1.key }
        if entries.isEmpty, token?.labels != nil {
            metrics.authFailures.labels("forbidden_label").inc()
            return Self.error(403, "forbidden", "this token may request none of this gateway's labels", extraHeaders: idHeader)
        }
        var body: [UInt8] = []
        body.append(static: #"{"labels":["#)
        for (i, (_, entry)) in entries.enumerated() {
            if i > 0 { body.append(static: ",") }
            body.append(static: #"{"label":"#)
            JSONText.appendString(entry.label, to: &body)
            body.append(static: #","algorithm":""#)
            body.append(utf8: entry.parameters.algorithm.name)
            body.append(static: #"","digits":"#)
            body.append(decimal: entry.parameters.digits)
            body.append(static: #","period":"#)
            body.append(decimal: entry.parameters.period)
            body.append(static: "}")
        }
        body.append(static: #"],"instance":"#)
        body.append(contentsOf: instanceJSON)
        body.append(static: "}")
        return HTTPResponse(status: 200, headers: Self.jsonHeaders + idHeader, body: body)
    }

    /// Who is calling, or the refusal to send.
    enum ClientAuthentication {
        /// No tokens are configured and GATEWAY_INSECURE_NO_AUTH allows anyone.
        case anonymous
        case token(ClientToken)
        case refused(HTTPResponse)
    }

    /// The bearer token of `request`, as `/code` checks it: an address that failed too often is
    /// refused before its token is looked at; each failure counts against the address (behind a
    /// trusted proxy, the address it appended last) and in `gateway_auth_failures_total`.
    // `/code` still does the same steps inline, with its audit lines; its refusal rework is
    // the place to make it use this one.
    func authenticateClient(_ request: HTTPRequest, tokens: TokenSet) -> ClientAuthentication {
        let challenge = "Bearer realm=\"totp-gateway\""
        func refuse(_ status: Int, _ reason: String, _ error: String, _ message: String, _ headers: [(String, String)]) -> ClientAuthentication {
            metrics.authFailures.labels(reason).inc()
            return .refused(Self.error(status, error, message, extraHeaders: headers))
        }
        guard !tokens.isEmpty else {
            if configuration.insecureNoAuth { return .anonymous }
            return refuse(401, "no_tokens_configured", "unauthorized", "no client tokens are configured on this gateway; set GATEWAY_TOKENS",
                          [("WWW-Authenticate", challenge)])
        }
        let forwardedFor: String? = configuration.trustedProxies.contains(request.remoteAddress)
            ? request.headers.values("X-Forwarded-For").joined(separator: ", ").nilIfEmpty : nil
        let client = forwardedFor.flatMap { $0.split(separator: ",").last.map { $0.trimmingCharacters(in: " ") } } ?? request.remoteAddress
        if case .limited(let retryAfter) = authThrottle.check(client, now: monotonic()) {
            return refuse(429, "throttled", "too_many_failures", "too many failed authentications from this address; retry after \(retryAfter) s",
                          [("Retry-After", String(retryAfter))])
        }
        func failed() { _ = authThrottle.take(client, now: monotonic()) }
        guard let header = request.headers["Authorization"] else {
            failed()
            return refuse(401, "missing_token", "unauthorized", "send Authorization: Bearer <token>", [("WWW-Authenticate", challenge)])
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            failed()
            return refuse(401, "bad_scheme", "unauthorized", "use the Bearer scheme: Authorization: Bearer <token>",
                          [("WWW-Authenticate", challenge + ", error=\"invalid_request\"")])
        }
        let secret = parts[1].trimmingCharacters(in: " ")
        guard let token = tokens.authenticate(bearer: Array(secret.utf8)) else {
            failed()
            return refuse(401, "invalid_token", "unauthorized", "the token is not valid", [("WWW-Authenticate", challenge + ", error=\"invalid_token\"")])
        }
        return .token(token)
    }
}

extension HTTPResponse {
    /// The same response with `extra` headers added.
    func with(headers extra: [(String, String)]) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers + extra, body: body)
    }
}
