import TOTP
import Platform
import HTTPServer
import TextSupport

extension GatewayApp {
    /// `GET /code?label=X[&next=1]` with `Authorization: Bearer <secret>`.
    /// Order: authenticate (401), rate limit (429), label syntax (400), permission (403, also for
    /// labels that do not exist, so a restricted token learns nothing), existence (404 for `*`).
    /// Every refusal is a `CodeRefusal`, answered, counted and audited in one place.
    func handleCode(_ request: HTTPRequest) -> HTTPResponse {
        let active = self.active
        let now = wallClock()
        let requestID = requestIDs.resolve(incoming: request.headers["X-Request-ID"])
        // Every X-Forwarded-For field, in order: a proxy appends to what the client sent, so the
        // first one alone would be the client's own claim.
        let forwardedFor: String? = configuration.trustedProxies.contains(request.remoteAddress)
            ? request.headers.values("X-Forwarded-For").joined(separator: ", ").nilIfEmpty : nil
        let query = CodeQuery(parsing: request)
        var tokenName: String? = nil
        var label: String? = nil
        do throws(CodeRefusal) {
            let token = try authenticate(request, tokens: active.snapshot.tokens, forwardedFor: forwardedFor)
            tokenName = token?.name
            // Rate limit per token (anonymous demo mode shares one bucket).
            if case .limited(let retryAfter) = limiter.take(tokenName ?? "-", now: monotonic()) {
                throw .rateLimited(retryAfter: retryAfter)
            }
            let (resolved, entry) = try resolveLabel(query, in: active)
            label = resolved
            if let token, !token.allows(resolved) { throw .forbiddenLabel }
            guard let entry else { throw .unknownLabel }
            return issue(entry, in: active, to: request, token: tokenName, requestID: requestID, forwardedFor: forwardedFor,
                time: now, includeNext: query.next)
        } catch {
            if let reason = error.authFailureReason { metrics.authFailures.labels(reason).inc() }
            if error.isRateLimit { metrics.rateLimited.inc() }
            if let outcome = error.auditOutcome {
                // Refusals before the label step still record what was asked for, when well formed.
                audit.record(time: now, token: tokenName, label: label ?? query.label.flatMap { try? SeedLabel($0).value },
                    outcome: outcome, status: error.status, remote: request.remoteAddress, forwardedFor: forwardedFor,
                    requestID: requestID, code: nil, clientCert: request.clientCertificate)
            }
            return error.response(requestID: requestID)
        }
    }

    /// The token the request authenticates with; nil in insecure demo mode without tokens. A
    /// failed attempt counts against the client address's throttle.
    private func authenticate(_ request: HTTPRequest, tokens: TokenSet, forwardedFor: String?) throws(CodeRefusal) -> ClientToken? {
        if tokens.isEmpty {
            guard configuration.insecureNoAuth else { throw .noTokensConfigured }
            return nil
        }
        // Behind a trusted proxy the client is the address it appended last; else the peer.
        let client = forwardedFor.flatMap { $0.split(separator: ",").last.map { $0.trimmingCharacters(in: " ") } } ?? request.remoteAddress
        // An address that failed too often is refused before its token is even looked at, so
        // guessing gets no answer.
        if case .limited(let retryAfter) = authThrottle.check(client, now: monotonic()) {
            throw .authenticationThrottled(retryAfter: retryAfter)
        }
        do throws(CodeRefusal) {
            guard var header = request.headers["Authorization"] else { throw .missingToken }
            return try header.withUTF8 { Self.bearerToken($0, in: tokens) }.get()
        } catch {
            _ = authThrottle.take(client, now: monotonic())
            throw error
        }
    }

    /// Checks `Authorization: Bearer <secret>`: "Bearer" (any case), one or more spaces, the
    /// secret; surrounding spaces ignored. The secret is hashed from the header's bytes.
    private static func bearerToken(_ bytes: UnsafeBufferPointer<UInt8>, in tokens: TokenSet) -> Result<ClientToken, CodeRefusal> {
        let scheme: StaticString = "bearer "
        let n = scheme.utf8CodeUnitCount
        guard bytes.count > n else { return .failure(.notBearer) }
        for i in 0..<n where bytes[i] | 0x20 != scheme.utf8Start[i] { return .failure(.notBearer) }
        var start = n
        var end = bytes.count
        while start < end && bytes[start] == 0x20 { start += 1 }
        while end > start && bytes[end - 1] == 0x20 { end -= 1 }
        guard let token = tokens.authenticate(bearer: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start..<end]))) else {
            return .failure(.invalidToken)
        }
        return .success(token)
    }

    /// The requested label, canonical, and its seed when it is configured.
    private func resolveLabel(_ query: CodeQuery, in active: ActiveConfiguration) throws(CodeRefusal) -> (String, SeedEntry?) {
        if let problem = query.problem { throw .badRequest(problem: problem) }
        guard let text = query.label, !text.isEmpty else { throw .badRequest(problem: "missing label parameter: /code?label=LABEL") }
        // A configured label is valid by construction: validate only what the store does not know.
        let entries = active.snapshot.seeds.entries
        if let entry = entries[text] { return (entry.label, entry) }
        let label: String
        do { label = try SeedLabel(text).value } catch { throw .badRequest(problem: "malformed label: \(error.description)") }
        return (label, entries[label])
    }

    /// The code for `entry`, once its audit line is written (fail closed: no line, no code).
    private func issue(
        _ entry: SeedEntry, in active: ActiveConfiguration, to request: HTTPRequest, token: String?, requestID: String,
        forwardedFor: String?, time now: (seconds: Int64, nanoseconds: Int64), includeNext: Bool
    ) -> HTTPResponse {
        let label = entry.label
        let code = entry.code(at: now.seconds, includeNext: includeNext)
        // HEAD gets the same status and headers, but no code leaves the server: not counted as
        // issued, and audited as a check.
        let issued = request.method != .head
        guard audit.record(time: now, token: token, label: label, outcome: issued ? "issued" : "checked_head", status: 200,
            remote: request.remoteAddress, forwardedFor: forwardedFor, requestID: requestID, code: issued ? code.code : nil,
            clientCert: request.clientCertificate)
        else {
            return CodeRefusal.auditUnavailable.response(requestID: requestID)
        }
        if issued { active.issued(label).inc() }
        let parameters = entry.parameters
        // An estimate (the fixed keys are about 110 bytes, plus four numbers); more would grow.
        let expected = JSONText.maxQuotedCount(label) + instanceJSON.count + 2 * code.code.utf8.count + 192
        let body = [UInt8](expectedCount: expected) { w in
            w.write(static: #"{"label":"#)
            w.write(jsonString: label)
            w.write(static: #","code":""#)
            w.write(utf8: code.code)
            w.write(static: #"","period":"#)
            w.write(decimal: parameters.period)
            w.write(static: #","digits":"#)
            w.write(decimal: parameters.digits)
            w.write(static: #","algorithm":""#)
            w.write(utf8: parameters.algorithm.name)
            w.write(static: #"","remaining":"#)
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
