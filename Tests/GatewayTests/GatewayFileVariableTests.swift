import Foundation
import TestSupport
import XCTest
@testable import Gateway
@testable import Platform
@testable import Crypto
@testable import TOTP

/// The `NAME_FILE` convention for every gateway variable, and the refusal of `*_FILE` names the
/// gateway would not read.
final class GatewayFileVariableTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    var dir: String { tmp.path }

    override func setUp() { tmp = TemporaryDirectory(prefix: "filevars") }
    override func tearDown() { tmp = nil }

    /// A private (0600) file: secrets given as files must not be readable by others.
    func file(_ name: String, _ text: String) -> String {
        let path = tmp.write(name, text)
        chmod(path, 0o600)
        return path
    }

    func problems(_ env: [String: String]) -> [ConfigProblem] {
        do {
            _ = try GatewayConfiguration.load(environment: Environment(env), listenOverride: nil)
            return []
        } catch { return error.problems }
    }

    func testEveryVariableWorksThroughItsFile() throws {
        let values: [String: String] = [
            "GATEWAY_LISTEN": "127.0.0.1:9123", "GATEWAY_INSTANCE": "gw-from-file", "GATEWAY_EVENT_LOOPS": "3",
            "GATEWAY_DRAIN_SECONDS": "1.5", "GATEWAY_SHUTDOWN_GRACE_SECONDS": "4", "GATEWAY_LOG_LEVEL": "warning",
            "GATEWAY_TOKENS": "bot:bot-value-8Jd3Wq7Zx2Np5Rk9:*", "API_KEY": "api-key-value-6Lr2Xq8Nv4Tz9B", "GATEWAY_INSECURE_NO_AUTH": "1",
            "GATEWAY_RATE_LIMIT": "10/s", "GATEWAY_RATE_BURST": "7", "GATEWAY_METRICS_TOKEN": "metrics-token",
            "GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8", "GATEWAY_REQUIRE_CLOCK_SYNC": "yes",
            "LABELS": "demo:JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "TOTP_PERIOD": "60", "TOTP_DIGITS": "8",
            "GATEWAY_HEADER_TIMEOUT_SECONDS": "2.5", "GATEWAY_IDLE_TIMEOUT_SECONDS": "30", "GATEWAY_WRITE_TIMEOUT_SECONDS": "5",
            "GATEWAY_MAX_CONNECTIONS": "100", "GATEWAY_MAX_CONNECTIONS_PER_CLIENT": "16",
            "GATEWAY_METRICS_PER_LABEL": "0", "GATEWAY_AUTH_FAILURE_LIMIT": "5/min",
        ]
        XCTAssertEqual(Set(values.keys), Set(GatewayConfiguration.fileVariables), "every variable with a _FILE variant is tested")
        var env: [String: String] = [:]
        for (name, value) in values { env[name + "_FILE"] = file(name, value + "\n") }
        let e = Environment(env)
        let config = try GatewayConfiguration.load(environment: e, listenOverride: nil)
        XCTAssertEqual(config.listen.port, 9123)
        XCTAssertEqual(config.instance, "gw-from-file")
        XCTAssertEqual(config.eventLoops, 3)
        XCTAssertEqual(config.drainSeconds, 1.5)
        XCTAssertEqual(config.shutdownGraceSeconds, 4)
        XCTAssertEqual(config.logLevel, .warning)
        XCTAssertTrue(config.insecureNoAuth)
        XCTAssertTrue(config.requireClockSync)
        XCTAssertEqual(config.metricsTokenHash, Crypto.sha256(Array("metrics-token".utf8)))
        XCTAssertNotNil(config.rateLimit)
        XCTAssertEqual(config.headerTimeoutSeconds, 2.5)
        XCTAssertEqual(config.idleTimeoutSeconds, 30)
        XCTAssertEqual(config.writeTimeoutSeconds, 5)
        XCTAssertEqual(config.maxConnections, 100)
        XCTAssertEqual(config.maxConnectionsPerClient, 16)
        XCTAssertEqual(config.metricsPerLabel, false, "explicit 0 wins over the metrics token's default")
        XCTAssertFalse(config.perLabelSeries(labels: 2), "explicit 0 wins over the metrics token's default")
        XCTAssertEqual(config.authFailureLimit?.count, 5)
        let snapshot = try GatewaySnapshot.load(environment: e, generation: 1, loadedAt: 0)
        XCTAssertEqual(snapshot.tokens.tokens.map(\.name).sorted(), ["api-key", "bot"])
        XCTAssertEqual(snapshot.seeds.entry(for: "demo")?.parameters, try TOTPParameters(algorithm: .sha1, digits: 8, period: 60))
    }

    func testErrorsNameTheFileVariable() {
        let p = problems(["GATEWAY_LOG_LEVEL_FILE": file("level", "loud\n"), "GATEWAY_EVENT_LOOPS_FILE": dir + "/missing"])
        XCTAssertEqual(p.map(\.description).sorted(), [
            "GATEWAY_EVENT_LOOPS_FILE: \(dir)/missing: cannot open: No such file or directory",
            "GATEWAY_LOG_LEVEL_FILE (\(dir)/level): must be debug, info, warning or error",
        ])
        XCTAssertTrue(problems(["GATEWAY_LISTEN": "127.0.0.1:1", "GATEWAY_LISTEN_FILE": file("l", "127.0.0.1:2")])
            .first?.message.contains("both GATEWAY_LISTEN and GATEWAY_LISTEN_FILE") == true)
        let digits = file("d", "9\n")
        XCTAssertThrowsError(try SeedLoader(environment: Environment(["TOTP_DIGITS_FILE": digits])).load()) {
            XCTAssertEqual(($0 as? ConfigError)?.problems.map(\.description), ["TOTP_DIGITS_FILE (\(digits)): must be 6, 7 or 8"])
        }
    }

    func testUnknownFileVariablesAreRefused() {
        let p = problems([
            "GATEWAY_TOKEN_FILE": "/run/secrets/t", "GATEWAY_CA_FILE": "/etc/ca.pem", "GATEWAY_SEEDS_FILE_FILE": "/x",
            "GATEWAY_LISTN_FILE": "/x", "TOTP_SEEDS_FILE": "/x",
            // Known names are not refused for being *_FILE.
            "GATEWAY_SEEDS_FILE": "/x", "GATEWAY_SEEDS_KEY_FILE": "/x", "GATEWAY_AUDIT_FILE": "/tmp/audit.log",
            "TOTP_SEED_DEMO_FILE": "/x", "BOT_LOCK_FILE": "/x",
        ])
        // totp-bot's GATEWAY_TOKEN_FILE and GATEWAY_CA_FILE are tolerated (a shared environment file).
        XCTAssertEqual(p.map(\.source), ["GATEWAY_LISTN_FILE", "GATEWAY_SEEDS_FILE_FILE", "TOTP_SEEDS_FILE"])
        XCTAssertTrue(p.allSatisfy { $0.message.hasPrefix("is not a totp-gateway variable and would be ignored") }, "\(p)")
        XCTAssertTrue(p[1].message.contains("GATEWAY_SEEDS_FILE is already a path"), p[1].message)
    }
}
