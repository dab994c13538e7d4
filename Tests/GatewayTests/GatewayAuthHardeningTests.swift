import Foundation
import TestSupport
import XCTest
@testable import Gateway

/// Issue 9 item 12: guessable token secrets are refused, and failed authentications are
/// throttled per client address, so a guessing loop gets nowhere while others are served.
final class GatewayAuthHardeningTests: XCTestCase {
    func testWeakSecretsAreRefusedWithoutEchoingThem() {
        let env = ["TOTP_SEED_A": GatewayHarness.seed, "GATEWAY_TOKENS": "weak:7351:certus"]
        let r = TestProcess.run(GatewayHarness.binary, ["--check-config"], environment: env)
        XCTAssertEqual(r.status, 2, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("the secret of token 'weak' is too weak"), r.stderr)
        XCTAssertTrue(r.stderr.contains("openssl rand -hex 32"), r.stderr)
        XCTAssertFalse(r.stderr.contains("7351"), "the secret is never echoed")
        let api = TestProcess.run(GatewayHarness.binary, ["--check-config"], environment: ["TOTP_SEED_A": GatewayHarness.seed, "API_KEY": "hunter2hunter2"])
        XCTAssertEqual(api.status, 2)
        XCTAssertTrue(api.stderr.contains("API_KEY: the API key is too weak"), api.stderr)
        XCTAssertFalse(api.stderr.contains("hunter2"))
        // A hash cannot be judged: accepted.
        let hashed = TestProcess.run(GatewayHarness.binary, ["--check-config"],
            environment: ["TOTP_SEED_A": GatewayHarness.seed, "GATEWAY_TOKENS": "h:sha256:\(String(repeating: "ab", count: 32)):*"])
        XCTAssertEqual(hashed.status, 0, hashed.stderr)
    }

    func testEstimates() {
        XCTAssertLessThan(SecretStrength.estimatedBits("7351"), 20)
        XCTAssertLessThan(SecretStrength.estimatedBits("correct-horse"), 128)
        XCTAssertLessThan(SecretStrength.estimatedBits(String(repeating: "a", count: 60)), 30, "a run adds nothing")
        XCTAssertLessThan(SecretStrength.estimatedBits("0123456789abcdef0123456789abcdef0123"), 128, "nor does a sequence")
        XCTAssertEqual(SecretStrength.estimatedBits("3f9a1c0b7e2d58a46c1e9b0d7f3a25c8e6b1d9f04a7c3e5b2d8f6a1c9e0b4d7f"), 256, "openssl rand -hex 32")
        XCTAssertGreaterThanOrEqual(SecretStrength.estimatedBits(GatewayHarness.botToken), 128)
        // Every token the other tests, scripts and demos use passes.
        XCTAssertGreaterThanOrEqual(SecretStrength.estimatedBits("bot-gateway-token-0123456789"), 128, "BotStack.gatewayToken")
    }

    func testGuessingLoopIsThrottledAndOthersAreNot() throws {
        let gw = try GatewayHarness(extra: ["GATEWAY_TRUSTED_PROXIES": "127.0.0.3"])
        func attempt(_ token: String, source: String, forwardedFor: String? = nil) -> RawHTTP.Response? {
            var headers = ["Authorization": "Bearer \(token)"]
            if let forwardedFor { headers["X-Forwarded-For"] = forwardedFor }
            return RawHTTP.get(port: gw.port, "/code?label=demo", headers: headers, source: source)
        }
        // A guessing loop from 127.0.0.2: 10 tries (GATEWAY_AUTH_FAILURE_LIMIT's default burst), then 429.
        var statuses: [Int] = []
        for i in 0..<30 { statuses.append(attempt("guess-\(i)", source: "127.0.0.2")?.status ?? 0) }
        XCTAssertEqual(Array(statuses.prefix(10)), Array(repeating: 401, count: 10))
        XCTAssertEqual(Array(statuses.dropFirst(10)), Array(repeating: 429, count: 20), "\(statuses)")
        let throttled = try XCTUnwrap(attempt(GatewayHarness.botToken, source: "127.0.0.2"))
        XCTAssertEqual(throttled.status, 429, "even the right token gets no answer from a throttled address")
        XCTAssertNotNil(Int(throttled.header("Retry-After") ?? ""))
        // Another address is served.
        XCTAssertEqual(attempt(GatewayHarness.botToken, source: "127.0.0.1")?.status, 200)
        // Behind a trusted proxy (127.0.0.3) the client is the address the proxy appended.
        for i in 0..<12 { _ = attempt("guess-\(i)", source: "127.0.0.3", forwardedFor: "192.0.2.66") }
        XCTAssertEqual(attempt(GatewayHarness.botToken, source: "127.0.0.3", forwardedFor: "192.0.2.66")?.status, 429)
        XCTAssertEqual(attempt(GatewayHarness.botToken, source: "127.0.0.3", forwardedFor: "192.0.2.7")?.status, 200)
        let metrics = (gw.get("/metrics")?.bodyText ?? "")
        XCTAssertTrue(metrics.contains("gateway_auth_failures_total{reason=\"throttled\"} 24\n"), metrics)
    }
}
