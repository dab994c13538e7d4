import Foundation
import TestSupport
import XCTest

/// Three real gateways behind a real HAProxy running `infra/haproxy/haproxy.cfg`, all on
/// loopback ports the kernel picked; ready once HAProxy reports every gateway UP. HAProxy is
/// a trusted proxy for the gateways (as in the demo and compose). HAProxy refuses port 0, so
/// its public listener is made here (port 0, read back) and handed to it as its standard input
/// (`bind fd@0`); its stats page listens on a Unix socket.
///
/// ```swift
/// let cluster = try HAProxyCluster(haproxy: ["HAPROXY_TOKEN_RATE_LIMIT": "20"])
/// RawHTTP.get(port: cluster.port, "/code?label=demo", headers: ["Authorization": "Bearer \(GatewayHarness.botToken)"])
/// ```
final class HAProxyCluster {
    let gateways: [GatewayHarness]
    let haproxy: TestProcess
    let port: Int
    /// The stats page's Unix socket (`curl --unix-socket`).
    let statsSocket: String
    private let dir: String

    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }

    init(gateway extra: [String: String] = [:], haproxy haproxyExtra: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        // HAProxy sizes its descriptors from `maxconn 4096` (two per connection) and refuses to
        // start below that; children inherit this process's limit.
        try ConnectionFlood.raiseFileLimit(atLeast: 2 * 4096 + 100)
        var gatewayEnv = ["GATEWAY_TRUSTED_PROXIES": "127.0.0.1", "GATEWAY_RATE_LIMIT": "off"]
        for (k, v) in extra { gatewayEnv[k] = v }
        gateways = try (0..<3).map { _ in try GatewayHarness(extra: gatewayEnv) }
        dir = GatewayHarness.makeDirectory()
        let listener = try LoopbackSocket.bind(listening: 1024)
        defer { close(listener.fd) }  // HAProxy holds its own copy
        port = listener.port
        statsSocket = dir + "/stats.sock"
        var env = [
            "HAPROXY_BIND": "fd@0", "HAPROXY_STATS_BIND": "unix@" + statsSocket,
            "GW1_ADDR": "127.0.0.1:\(gateways[0].port)", "GW2_ADDR": "127.0.0.1:\(gateways[1].port)",
            "GW3_ADDR": "127.0.0.1:\(gateways[2].port)",
            "HAPROXY_RATE_LIMIT": "1000000", "HAPROXY_RATE_EXEMPT": "192.0.2.1/32",
        ]
        for (k, v) in haproxyExtra { env[k] = v }
        let config = ProcessInfo.processInfo.environment["TOTP_HAPROXY_CFG"] ?? Self.repositoryRoot + "/infra/haproxy/haproxy.cfg"
        haproxy = try TestProcess(
            executable: "/usr/sbin/haproxy", arguments: ["-W", "-db", "-f", config], environment: env, directory: dir,
            standardInput: listener.fd)
        let up = TestProcess.waitUntil(timeout: 15) { [statsSocket] in
            Self.serverStates(statsSocket: statsSocket).filter { $0 == "UP" }.count == 3
        }
        guard up else {
            throw NSError(domain: "HAProxyCluster", code: 1, userInfo: [NSLocalizedDescriptionKey: "HAProxy did not see 3 gateways UP: \(haproxy.stdout) \(haproxy.stderr)"])
        }
    }

    deinit {
        haproxy.signal(SIGTERM)
        if haproxy.waitForExit(timeout: 5) == nil { haproxy.signal(SIGKILL) }
        haproxy.waitForExit(timeout: 5)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The status column (UP, DOWN...) of each gateway in HAProxy's stats CSV.
    static func serverStates(statsSocket: String) -> [String] {
        // curl: the stats page may come chunked, which RawHTTP does not decode.
        let r = TestProcess.run("/usr/bin/curl", ["-fs", "--max-time", "2", "--unix-socket", statsSocket, "http://haproxy/stats;csv"], timeout: 5)
        return r.stdout.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            return f.count > 17 && f[0] == "totp_gateways" && f[1].hasPrefix("gw") ? String(f[17]) : nil
        }
    }

    func states() -> [String] { Self.serverStates(statsSocket: statsSocket) }

    func code(_ label: String = "demo", token: String = GatewayHarness.botToken, source: String? = nil, timeout: TimeInterval = 5) -> RawHTTP.Response? {
        RawHTTP.get(port: port, "/code?label=\(label)", headers: ["Authorization": "Bearer \(token)"], source: source, timeout: timeout)
    }
}
