import Foundation
import TestSupport
import XCTest

/// Issue 9 items 4 and 8 where they live: in HAProxy (infra/haproxy/haproxy.cfg), run for real
/// in front of three real gateways.
final class HAProxyClusterTests: XCTestCase {
    func testPublicFrontendServesOnlyTheAPI() throws {
        let cluster = try HAProxyCluster()
        XCTAssertEqual(cluster.code()?.status, 200)
        for target in ["/metrics", "/healthz", "/", "/stats", "/code/../metrics", "//metrics", "/Code?label=demo", "/code/x"] {
            let r = RawHTTP.get(port: cluster.port, target, headers: ["Authorization": "Bearer \(GatewayHarness.botToken)"])
            XCTAssertEqual(r?.status, 404, "\(target) is not public")
            XCTAssertNotNil(r?.header("X-Request-ID"), "refusals are tagged too")
        }
        // GET /labels is API too (issue 14): what the token may request, through HAProxy.
        let labels = RawHTTP.get(port: cluster.port, "/labels", headers: ["Authorization": "Bearer \(GatewayHarness.botToken)"])
        XCTAssertEqual(labels?.status, 200)
        XCTAssertTrue((labels?.bodyText ?? "").contains(#""label":"demo""#))
        XCTAssertEqual(RawHTTP.get(port: cluster.port, "/labels")?.status, 401)
        // The gateways still answer their checks and scrapes on the internal addresses.
        XCTAssertEqual(RawHTTP.get(port: cluster.gateways[0].port, "/metrics")?.status, 200)
        XCTAssertEqual(cluster.states(), ["UP", "UP", "UP"])
    }

    func testPerTokenRateLimitHoldsForTheWholeCluster() throws {
        // 20 a minute per token in each gateway AND in HAProxy: three gateways alone let 60 through.
        let cluster = try HAProxyCluster(gateway: ["GATEWAY_RATE_LIMIT": "20/min"], haproxy: ["HAPROXY_TOKEN_RATE_LIMIT": "20"])
        var statuses: [Int: Int] = [:]
        var retryAfter: String? = nil
        for i in 0..<60 {
            // The header spelled differently must not count as another token.
            let header = ["Bearer \(GatewayHarness.botToken)", "bearer  \(GatewayHarness.botToken)", "BEARER \(GatewayHarness.botToken)  "][i % 3]
            let r = RawHTTP.get(port: cluster.port, "/code?label=demo", headers: ["Authorization": header])
            statuses[r?.status ?? 0, default: 0] += 1
            if r?.status == 429 { retryAfter = r?.header("Retry-After") }
        }
        XCTAssertEqual(statuses, [200: 20, 429: 40], "the cluster-wide limit, not 3 x 20")
        XCTAssertEqual(retryAfter, "60")
        // Another token has its own budget.
        XCTAssertEqual(cluster.code(token: GatewayHarness.limitedToken)?.status, 200)
        // Two Authorization headers could let the gateway and HAProxy see different tokens.
        let c = try RawHTTP(port: cluster.port)
        try c.send("GET /code?label=demo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(GatewayHarness.limitedToken)\r\nAuthorization: Bearer x\r\nConnection: close\r\n\r\n")
        XCTAssertEqual((try? c.readResponse())?.status, 400)
        c.close()
        // HAProxy keys its table on a hash: the token is in neither its logs nor its output.
        XCTAssertFalse((cluster.haproxy.stdout + cluster.haproxy.stderr).contains(GatewayHarness.botToken))
    }
}
