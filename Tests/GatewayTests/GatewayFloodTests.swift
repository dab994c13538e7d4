import Foundation
import TestSupport
import XCTest

/// Issue 9 item 1: a client holding thousands of idle sockets must not take a gateway (or
/// HAProxy) out of service. The flood comes from other loopback addresses (127.0.0.2...) than
/// the legitimate client and the health probes (127.0.0.1), as from another host.
final class GatewayFloodTests: XCTestCase {
    /// Probes `count` times; returns the failures and the latencies (ms) of the answers.
    private func probe(_ count: Int, _ request: () -> RawHTTP.Response?) -> (failed: Int, latencies: [Double]) {
        var failed = 0
        var latencies: [Double] = []
        for _ in 0..<count {
            let start = Date()
            let r = request()
            if r?.status == 200 { latencies.append(Date().timeIntervalSince(start) * 1000) } else { failed += 1 }
        }
        return (failed, latencies)
    }

    private func summary(_ name: String, _ result: (failed: Int, latencies: [Double])) -> String {
        let sorted = result.latencies.sorted()
        let p50 = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        let max = sorted.last ?? 0
        return String(format: "%@: %d ok, %d failed, p50 %.1f ms, max %.1f ms", name, sorted.count, result.failed, p50, max)
    }

    private func metric(_ gw: GatewayHarness, _ name: String) -> Double {
        let text = (gw.get("/metrics")?.bodyText ?? "")
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last!) } ?? -1
    }

    func testOneClientHolding4200IdleSocketsDoesNotMoveHealthz() throws {
        let gw = try GatewayHarness(extra: ["GATEWAY_TRUSTED_PROXIES": "127.0.0.1"])
        let flood = try ConnectionFlood(port: gw.port, sources: ["127.0.0.2"], perSource: 4200)
        defer { flood.close() }
        print("flood: \(flood.settle()) of 4200 sockets held open")
        // Every probe a fresh connection, as HAProxy's checks are; 2 s is a failure (a check times out after 250 ms).
        let health = probe(20) { RawHTTP.get(port: gw.port, "/healthz", timeout: 2) }
        let code = probe(10) {
            RawHTTP.get(port: gw.port, "/code?label=demo", headers: ["Authorization": "Bearer \(GatewayHarness.botToken)"], timeout: 2)
        }
        print(summary("flood 4200 from 127.0.0.2, /healthz", health))
        print(summary("flood 4200 from 127.0.0.2, /code", code))
        XCTAssertEqual(health.failed, 0, "every /healthz probe answers 200 while one client floods")
        XCTAssertEqual(code.failed, 0)
        XCTAssertGreaterThan(metric(gw, "gateway_http_client_connections_rejected_total"), 0)
    }

    func testIdleSocketsFromManyAddressesGiveWayToNewConnectionsAtTheCap() throws {
        // 42 addresses x 100 idle sockets: each under the per-client limit, together over the
        // 4096 cap. New connections evict the longest idle instead of being refused.
        let gw = try GatewayHarness(extra: ["GATEWAY_TRUSTED_PROXIES": "127.0.0.1"])
        let sources = (1...42).map { "127.0.1.\($0)" }
        let flood = try ConnectionFlood(port: gw.port, sources: sources, perSource: 100)
        defer { flood.close() }
        print("flood: \(flood.settle()) of 4200 sockets held open")
        let health = probe(20) { RawHTTP.get(port: gw.port, "/healthz", timeout: 2) }
        print(summary("flood 42x100 from 127.0.1.x, /healthz", health))
        XCTAssertEqual(health.failed, 0, "a new connection at the cap evicts an idle one")
        XCTAssertGreaterThan(metric(gw, "gateway_http_connections_evicted_total"), 0)
    }

    func testIdleFloodAgainstHAProxyCostsNoOtherClientACode() throws {
        let cluster = try HAProxyCluster()
        let flood = try ConnectionFlood(port: cluster.port, sources: ["127.0.0.2"], perSource: 4200)
        defer { flood.close() }
        print("flood: \(flood.settle()) of 4200 sockets held open")
        let code = probe(24) { cluster.code(timeout: 3) }
        print(summary("flood 4200 from 127.0.0.2 at HAProxy, /code through HAProxy", code))
        XCTAssertEqual(code.failed, 0, "no other client loses a /code to the flood")
        // And the same flood at each gateway directly: HAProxy keeps every one UP.
        let floods = try cluster.gateways.map { try ConnectionFlood(port: $0.port, sources: ["127.0.0.3"], perSource: 4200) }
        defer { floods.forEach { $0.close() } }
        print("flood: \(floods.map { $0.settle(timeout: 3) }) of 4200 sockets held open per gateway")
        let during = probe(24) { cluster.code(timeout: 3) }
        print(summary("flood 4200 from 127.0.0.3 at each gateway, /code through HAProxy", during))
        XCTAssertEqual(during.failed, 0)
        XCTAssertEqual(cluster.states(), ["UP", "UP", "UP"])
    }
}
