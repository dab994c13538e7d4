import XCTest
@testable import Gateway
@testable import HTTPServer

/// Each `/code` refusal gives its status, JSON error, audit outcome, metric reason and headers
/// together; the table is the contract operators' dashboards and the bot rely on.
final class CodeRefusalTests: XCTestCase {
    func testEachRefusalNamesEverythingThatFollowsFromIt() {
        let table: [(CodeRefusal, status: Int, error: String, outcome: String?, reason: String?)] = [
            (.noTokensConfigured, 401, "unauthorized", "refused_no_tokens", "no_tokens_configured"),
            (.authenticationThrottled(retryAfter: 7), 429, "too_many_failures", "refused_auth_throttled", "throttled"),
            (.missingToken, 401, "unauthorized", "refused_missing_token", "missing_token"),
            (.notBearer, 401, "unauthorized", "refused_bad_scheme", "bad_scheme"),
            (.invalidToken, 401, "unauthorized", "refused_invalid_token", "invalid_token"),
            (.rateLimited(retryAfter: 3), 429, "rate_limited", "refused_rate_limited", nil),
            (.badRequest(problem: "give label= once"), 400, "bad_request", "refused_bad_request", nil),
            (.forbiddenLabel, 403, "forbidden", "refused_forbidden", "forbidden_label"),
            (.unknownLabel, 404, "not_found", "refused_unknown_label", nil),
            (.auditUnavailable, 503, "audit_unavailable", nil, nil),
        ]
        for (refusal, status, error, outcome, reason) in table {
            XCTAssertEqual(refusal.status, status, "\(refusal)")
            XCTAssertEqual(refusal.error, error, "\(refusal)")
            XCTAssertEqual(refusal.auditOutcome, outcome, "\(refusal)")
            XCTAssertEqual(refusal.authFailureReason, reason, "\(refusal)")
            XCTAssertFalse(refusal.message.isEmpty, "\(refusal)")
        }
        XCTAssertEqual(table.filter { $0.0.isRateLimit }.map(\.0), [.rateLimited(retryAfter: 3)])
    }

    func testTheResponseCarriesTheMessageTheRequestIDAndTheRefusalsHeaders() throws {
        let response = CodeRefusal.rateLimited(retryAfter: 3).response(requestID: "r-1")
        XCTAssertEqual(response.status, 429)
        XCTAssertEqual(response.headers.map(\.0), ["Content-Type", "Cache-Control", "X-Request-ID", "Retry-After"])
        XCTAssertEqual(response.headers.last?.1, "3")
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String])
        XCTAssertEqual(body, ["error": "rate_limited", "message": "too many requests for this token; retry after 3 s"])
        let unauthorized = CodeRefusal.invalidToken.response(requestID: "r-2")
        XCTAssertEqual(unauthorized.headers.first { $0.0 == "WWW-Authenticate" }?.1, "Bearer realm=\"totp-gateway\", error=\"invalid_token\"")
        XCTAssertEqual(CodeRefusal.auditUnavailable.response(requestID: "r-3").headers.last?.1, String(AuditLog.degradedSeconds))
    }
}
