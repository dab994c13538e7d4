import Shared

extension GatewayApp {
    /// `GET /code?label=X[&next=1]` with `Authorization: Bearer <secret>`.
    /// Order: authenticate (401), rate limit (429), label syntax (400), permission (403, also for
    /// labels that do not exist, so a restricted token learns nothing), existence (404 for `*`).
    func handleCode(_ request: HTTPRequest) -> HTTPResponse {
        let (snap, issuedCounters) = active
        let now = wallClock()
        let requestID = requestIDs.resolve(incoming: request.headers["X-Request-ID"])
        let forwardedFor = configuration.trustedProxies.contains(request.remoteAddress) ? request.headers["X-Forwarded-For"] : nil
        let idHeader = [("X-Request-ID", requestID)]  // error paths only

        func refuse(_ status: Int, _ outcome: String, _ error: String, _ message: String, token: String?, label: String?,
            reason: String? = nil, headers: [(String, String)] = []) -> HTTPResponse
        {
            if let reason { metrics.authFailures.labels(reason).inc() }
            audit.record(time: now, token: token, label: label, outcome: outcome, status: status, remote: request.remoteAddress,
                forwardedFor: forwardedFor, requestID: requestID, code: nil)
            return Self.error(status, error, message, extraHeaders: idHeader + headers)
        }

        // Authentication.
        var tokenName: String? = nil
        var allowed: ClientToken? = nil
        if snap.tokens.isEmpty {
            guard configuration.insecureNoAuth else {
                return refuse(401, "refused_no_tokens", "unauthorized",
                    "no client tokens are configured on this gateway; set GATEWAY_TOKENS", token: nil, label: nil,
                    reason: "no_tokens_configured", headers: [("WWW-Authenticate", "Bearer realm=\"totp-gateway\"")])
            }
        } else {
            guard let header = request.headers["Authorization"] else {
                return refuse(401, "refused_missing_token", "unauthorized", "send Authorization: Bearer <token>", token: nil, label: nil,
                    reason: "missing_token", headers: [("WWW-Authenticate", "Bearer realm=\"totp-gateway\"")])
            }
            let utf8 = Array(header.utf8)
            let prefix = Array("bearer ".utf8)
            guard utf8.count > prefix.count,
                zip(utf8.prefix(prefix.count), prefix).allSatisfy({ ($0 | 0x20) == $1 || $0 == $1 })
            else {
                return refuse(401, "refused_bad_scheme", "unauthorized", "use the Bearer scheme: Authorization: Bearer <token>",
                    token: nil, label: nil, reason: "bad_scheme",
                    headers: [("WWW-Authenticate", "Bearer realm=\"totp-gateway\", error=\"invalid_request\"")])
            }
            var secret = utf8[prefix.count...]
            while secret.first == 0x20 { secret = secret.dropFirst() }
            while secret.last == 0x20 { secret = secret.dropLast() }
            guard let token = snap.tokens.authenticate(bearer: Array(secret)) else {
                return refuse(401, "refused_invalid_token", "unauthorized", "the token is not valid", token: nil, label: nil,
                    reason: "invalid_token", headers: [("WWW-Authenticate", "Bearer realm=\"totp-gateway\", error=\"invalid_token\"")])
            }
            tokenName = token.name
            allowed = token
        }

        // Rate limit per token (anonymous demo mode shares one bucket).
        if case .limited(let retryAfter) = limiter.take(tokenName ?? "-", now: monotonic()) {
            metrics.rateLimited.inc()
            return refuse(429, "refused_rate_limited", "rate_limited", "too many requests for this token; retry after \(retryAfter) s",
                token: tokenName, label: nil, headers: [("Retry-After", String(retryAfter))])
        }

        // Label.
        let query = CodeQuery(parsing: request)
        if let problem = query.problem {
            return refuse(400, "refused_bad_request", "bad_request", problem, token: tokenName, label: nil)
        }
        let labelText = query.label
        let next = query.next
        guard let labelText, !labelText.isEmpty else {
            return refuse(400, "refused_bad_request", "bad_request", "missing label parameter: /code?label=LABEL", token: tokenName, label: nil)
        }
        // A configured label is valid by construction: validate only what the store does not know.
        let label: String
        let found = snap.seeds.entries[labelText]
        if let found {
            label = found.label
        } else {
            do { label = try SeedLabel(labelText).value } catch {
                return refuse(400, "refused_bad_request", "bad_request", "malformed label: \(error.description)", token: tokenName, label: nil)
            }
        }
        if let allowed, !allowed.allows(label) {
            return refuse(403, "refused_forbidden", "forbidden", "this token may not request this label", token: tokenName, label: label,
                reason: "forbidden_label")
        }
        guard let entry = found ?? snap.seeds.entry(for: label) else {
            return refuse(404, "refused_unknown_label", "not_found", "no such label", token: tokenName, label: label)
        }

        let code = entry.code(at: now.seconds, includeNext: next)
        (issuedCounters[label] ?? metrics.codesIssued.labels(label)).inc()
        audit.record(time: now, token: tokenName, label: label, outcome: "issued", status: 200, remote: request.remoteAddress,
            forwardedFor: forwardedFor, requestID: requestID, code: code.code)
        var body: [UInt8] = []
        body.reserveCapacity(224)
        body.append(contentsOf: #"{"label":"#.utf8)
        JSONText.appendString(label, to: &body)
        body.append(contentsOf: #","code":""#.utf8)
        body.append(contentsOf: code.code.utf8)
        body.append(contentsOf: #"","period":"#.utf8)
        body.append(contentsOf: String(entry.parameters.period).utf8)
        body.append(contentsOf: #","digits":"#.utf8)
        body.append(contentsOf: String(entry.parameters.digits).utf8)
        body.append(contentsOf: #","algorithm":""#.utf8)
        body.append(contentsOf: entry.parameters.algorithm.name.utf8)
        body.append(contentsOf: #"","remaining":"#.utf8)
        body.append(contentsOf: String(code.remaining).utf8)
        body.append(contentsOf: #","expires_at":"#.utf8)
        body.append(contentsOf: String(code.expiresAt).utf8)
        body.append(contentsOf: #","instance":"#.utf8)
        body.append(contentsOf: instanceJSON)
        if let nextCode = code.nextCode, let nextExpires = code.nextExpiresAt {
            body.append(contentsOf: #","next_code":""#.utf8)
            body.append(contentsOf: nextCode.utf8)
            body.append(contentsOf: #"","next_expires_at":"#.utf8)
            body.append(contentsOf: String(nextExpires).utf8)
        }
        body.append(UInt8(ascii: "}"))
        return HTTPResponse(status: 200, headers: [Self.jsonHeaders[0], Self.jsonHeaders[1], ("X-Request-ID", requestID)], body: body)
    }
}
