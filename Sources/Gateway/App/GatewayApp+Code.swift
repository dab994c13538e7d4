import TOTP
import HTTPServer
import TextSupport

extension GatewayApp {
    /// `GET /code?label=X[&next=1]` with `Authorization: Bearer <secret>`.
    /// Order: authenticate (401), rate limit (429), label syntax (400), permission (403, also for
    /// labels that do not exist, so a restricted token learns nothing), existence (404 for `*`).
    func handleCode(_ request: HTTPRequest) -> HTTPResponse {
        let active = self.active
        let snap = active.snapshot
        let now = wallClock()
        let requestID = requestIDs.resolve(incoming: request.headers["X-Request-ID"])
        // Every X-Forwarded-For field, in order: a proxy appends to what the client sent, so the
        // first one alone would be the client's own claim.
        let forwardedFor: String? = configuration.trustedProxies.contains(request.remoteAddress)
            ? request.headers.values("X-Forwarded-For").joined(separator: ", ").nilIfEmpty : nil
        let query = CodeQuery(parsing: request)

        func refuse(_ status: Int, _ outcome: String, _ error: String, _ message: String, token: String?, label: String?,
            reason: String? = nil, headers: [(String, String)] = []) -> HTTPResponse
        {
            if let reason { metrics.authFailures.labels(reason).inc() }
            // Refusals before the label step still record what was asked for, when well formed.
            let label = label ?? query.label.flatMap { try? SeedLabel($0).value }
            audit.record(time: now, token: token, label: label, outcome: outcome, status: status, remote: request.remoteAddress,
                forwardedFor: forwardedFor, requestID: requestID, code: nil)
            return Self.error(status, error, message, extraHeaders: [("X-Request-ID", requestID)] + headers)
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
            // Behind a trusted proxy the client is the address it appended last; else the peer.
            let client = forwardedFor.flatMap { $0.split(separator: ",").last.map { $0.trimmingCharacters(in: " ") } } ?? request.remoteAddress
            // An address that failed too often is refused before its token is even looked at,
            // so guessing gets no answer.
            if case .limited(let retryAfter) = authThrottle.check(client, now: monotonic()) {
                return refuse(429, "refused_auth_throttled", "too_many_failures",
                    "too many failed authentications from this address; retry after \(retryAfter) s", token: nil, label: nil,
                    reason: "throttled", headers: [("Retry-After", String(retryAfter))])
            }
            func failed() { _ = authThrottle.take(client, now: monotonic()) }
            guard var header = request.headers["Authorization"] else {
                failed()
                return refuse(401, "refused_missing_token", "unauthorized", "send Authorization: Bearer <token>", token: nil, label: nil,
                    reason: "missing_token", headers: [("WWW-Authenticate", "Bearer realm=\"totp-gateway\"")])
            }
            // "Bearer" (any case), one or more spaces, the secret; surrounding spaces ignored.
            let token: ClientToken?? = header.withUTF8 { bytes -> ClientToken?? in
                let scheme: StaticString = "bearer "
                let n = scheme.utf8CodeUnitCount
                guard bytes.count > n else { return .none }
                for i in 0..<n where bytes[i] | 0x20 != scheme.utf8Start[i] { return .none }
                var start = n
                var end = bytes.count
                while start < end && bytes[start] == 0x20 { start += 1 }
                while end > start && bytes[end - 1] == 0x20 { end -= 1 }
                return .some(snap.tokens.authenticate(bearer: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start..<end]))))
            }
            guard case .some(let authenticated) = token else {
                failed()
                return refuse(401, "refused_bad_scheme", "unauthorized", "use the Bearer scheme: Authorization: Bearer <token>",
                    token: nil, label: nil, reason: "bad_scheme",
                    headers: [("WWW-Authenticate", "Bearer realm=\"totp-gateway\", error=\"invalid_request\"")])
            }
            guard let token = authenticated else {
                failed()
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
        var route = active.routes[labelText]
        if let route {
            label = route.entry.label
        } else {
            do { label = try SeedLabel(labelText).value } catch {
                return refuse(400, "refused_bad_request", "bad_request", "malformed label: \(error.description)", token: tokenName, label: nil)
            }
            route = active.routes[label]
        }
        if let allowed, !allowed.allows(label) {
            return refuse(403, "refused_forbidden", "forbidden", "this token may not request this label", token: tokenName, label: label,
                reason: "forbidden_label")
        }
        guard let route else {
            return refuse(404, "refused_unknown_label", "not_found", "no such label", token: tokenName, label: label)
        }

        let code = route.entry.code(at: now.seconds, includeNext: next)
        // HEAD gets the same status and headers, but no code leaves the server: not counted as
        // issued, and audited as a check.
        let issued = request.method != .head
        // Fail closed: no code leaves unless its audit line was written.
        guard audit.record(time: now, token: tokenName, label: label, outcome: issued ? "issued" : "checked_head", status: 200,
            remote: request.remoteAddress, forwardedFor: forwardedFor, requestID: requestID, code: issued ? code.code : nil)
        else {
            return Self.error(503, "audit_unavailable",
                "the audit log cannot be written, so no code is handed out; retry shortly (the gateway log says why)",
                extraHeaders: [("X-Request-ID", requestID), ("Retry-After", String(AuditLog.degradedSeconds))])
        }
        if issued { route.issued.inc() }
        let bound = route.bodyPrefix.count + route.bodyParameters.count + instanceJSON.count + 2 * code.code.utf8.count + 128  // 128: the fixed keys (about 65 bytes) and three numbers
        let body = [UInt8](expectedCount: bound) { w in
            w.write(bytes: route.bodyPrefix)
            w.write(utf8: code.code)
            w.write(bytes: route.bodyParameters)
            w.write(decimal: code.remaining)
            w.write(static: #","expires_at":"#)
            w.write(decimal: code.expiresAt)
            w.write(static: #","instance":"#)
            w.write(bytes: instanceJSON)
            if let nextCode = code.nextCode, let nextExpires = code.nextExpiresAt {
                w.write(static: #","next_code":""#)
                w.write(utf8: nextCode)
                w.write(static: #"","next_expires_at":"#)
                w.write(decimal: nextExpires)
            }
            w.write(byte: UInt8(ascii: "}"))
        }
        return HTTPResponse(status: 200, headers: [Self.jsonHeaders[0], Self.jsonHeaders[1], ("X-Request-ID", requestID)], body: body)
    }
}
