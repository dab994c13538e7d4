import Foundation
import TestSupport
import XCTest

/// The real `totp-gateway` binary on 127.0.0.1 with an ephemeral port, talked to over real
/// sockets, real curl, real oathtool and real promtool.
final class GatewayProcessTests: XCTestCase {
    func testServedCodeAgreesWithOathtool() throws {
        let gw = try GatewayHarness()
        let r = try XCTUnwrap(gw.get("/code?label=rfc&next=1"))
        XCTAssertEqual(r.status, 200)
        let j = r.json
        let expires = try XCTUnwrap(j["expires_at"] as? Int)
        let stepStart = expires - 30
        XCTAssertEqual(j["code"] as? String,
            GatewayHarness.oathtool(["--totp", "-d", "8", "-b", "--now=@\(stepStart)", GatewayHarness.rfcSeed]))
        XCTAssertEqual(j["next_code"] as? String,
            GatewayHarness.oathtool(["--totp", "-d", "8", "-b", "--now=@\(expires)", GatewayHarness.rfcSeed]))
        let remaining = try XCTUnwrap(j["remaining"] as? Int)
        XCTAssertTrue((1...30).contains(remaining))
        XCTAssertEqual(j["instance"] as? String, "gw-test")
        XCTAssertEqual(r.header("Cache-Control"), "no-store")
    }

    func testStatusesOverTheWire() throws {
        let gw = try GatewayHarness()
        XCTAssertEqual(gw.get("/code?label=demo")?.status, 200)
        XCTAssertEqual(gw.get("/code")?.status, 400)
        let unauth = gw.get("/code?label=demo", token: nil)
        XCTAssertEqual(unauth?.status, 401)
        XCTAssertEqual(unauth?.header("WWW-Authenticate")?.hasPrefix("Bearer"), true)
        XCTAssertEqual(gw.get("/code?label=rfc", token: GatewayHarness.limitedToken)?.status, 403)
        XCTAssertEqual(gw.get("/code?label=ghost", token: GatewayHarness.limitedToken)?.status, 403)
        XCTAssertEqual(gw.get("/code?label=ghost")?.status, 404)
        let post = gw.get("/code?label=demo", method: "POST")
        XCTAssertEqual(post?.status, 405)
        XCTAssertEqual(post?.header("Allow"), "GET, HEAD")
        let head = gw.get("/code?label=demo", method: "HEAD")
        XCTAssertEqual(head?.status, 200)
        XCTAssertNotNil(head?.header("Content-Length"))
        XCTAssertEqual(head?.body.count, 0)
        let echoed = gw.get("/code?label=demo", headers: ["X-Request-ID": "req-42"])
        XCTAssertEqual(echoed?.header("X-Request-ID"), "req-42")
    }

    func testRateLimitOverTheWire() throws {
        let gw = try GatewayHarness(extra: ["GATEWAY_RATE_LIMIT": "2/min"])
        XCTAssertEqual(gw.get("/code?label=demo")?.status, 200)
        XCTAssertEqual(gw.get("/code?label=demo")?.status, 200)
        let limited = gw.get("/code?label=demo")
        XCTAssertEqual(limited?.status, 429)
        XCTAssertNotNil(Int(limited?.header("Retry-After") ?? ""))
    }

    func testKeepAlivePipeliningAndHTTP10() throws {
        let gw = try GatewayHarness()
        let c = try RawHTTP(port: gw.port)
        defer { c.close() }
        let auth = "Authorization: Bearer \(GatewayHarness.botToken)\r\n"
        try c.send("GET /code?label=demo HTTP/1.1\r\nHost: a\r\n\(auth)\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /code?label=rfc HTTP/1.1\r\nHost: a\r\n\(auth)\r\n")
        let first = (try? c.readResponse())
        let second = (try? c.readResponse())
        let third = (try? c.readResponse())
        XCTAssertEqual(first?.json["label"] as? String, "demo", "pipelined responses come in order")
        XCTAssertEqual(second?.json["status"] as? String, "ok")
        XCTAssertEqual(third?.json["label"] as? String, "rfc")
        // HTTP/1.0 without keep-alive: the server closes after the response.
        let old = try RawHTTP(port: gw.port)
        defer { old.close() }
        try old.send("GET /healthz HTTP/1.0\r\n\r\n")
        XCTAssertEqual((try? old.readResponse())?.status, 200)
        XCTAssertTrue(old.peerClosed())
        // Real curl reuses one connection for two URLs.
        let curl = TestProcess.run("/usr/bin/curl", ["-sv", "-o", "/dev/null", "-o", "/dev/null",
            "http://127.0.0.1:\(gw.port)/healthz", "http://127.0.0.1:\(gw.port)/healthz"])
        XCTAssertEqual(curl.status, 0)
        XCTAssertTrue(curl.stderr.contains("Re-using existing connection") || curl.stderr.contains("Reusing existing connection"), curl.stderr)
    }

    func testSighupReloadGoodThenBroken() throws {
        let dir = GatewayHarness.makeDirectory()
        let seeds = dir + "/seeds"
        FileManager.default.createFile(atPath: seeds, contents: Data("alpha = \(GatewayHarness.seed)\n".utf8))
        let gw = try GatewayHarness(environment: [
            "GATEWAY_SEEDS_FILE": seeds, "GATEWAY_TOKENS": "bot:\(GatewayHarness.botToken):*", "GATEWAY_DRAIN_SECONDS": "0",
        ], dir: dir)
        XCTAssertEqual(gw.get("/code?label=alpha")?.status, 200)
        XCTAssertEqual(gw.get("/code?label=beta")?.status, 404)
        // Good reload: a new label appears, generation 2.
        FileManager.default.createFile(atPath: seeds, contents: Data("alpha = \(GatewayHarness.seed)\nbeta = \(GatewayHarness.rfcSeed)\n".utf8))
        gw.process.signal(SIGHUP)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { gw.get("/healthz")?.json["generation"] as? Int == 2 })
        XCTAssertEqual(gw.get("/code?label=beta")?.status, 200)
        // Broken reload: the old configuration keeps serving and the generation stays.
        FileManager.default.createFile(atPath: seeds, contents: Data("alpha = \(GatewayHarness.seed)\nbeta = NOT*BASE32\n".utf8))
        gw.process.signal(SIGHUP)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { gw.process.logLines.contains { $0["event"] as? String == "reload_failed" } })
        XCTAssertEqual(gw.get("/healthz")?.json["generation"] as? Int, 2)
        XCTAssertEqual(gw.get("/code?label=beta")?.status, 200)
        let failed = gw.process.logLines.first { $0["event"] as? String == "reload_failed" }
        XCTAssertEqual(failed?["source"] as? String, "\(seeds):2")
        XCTAssertEqual(failed?["label"] as? String, "beta")
        let metrics = (gw.get("/metrics")?.bodyText ?? "")
        XCTAssertTrue(metrics.contains("gateway_reloads_total{result=\"failure\"} 1"))
        XCTAssertTrue(metrics.contains("gateway_reloads_total{result=\"success\"} 1"))
    }

    /// An 80-bit seed loads with a warning: one `weak_seed` JSON line (label and source, no seed)
    /// and `gateway_seeds_weak 1`.
    func testWeakSeedIsLoggedAndCounted() throws {
        let weakSeed = "JBSWY3DPEHPK3PXP"  // 10 bytes: 80 bits
        let gw = try GatewayHarness(extra: ["TOTP_SEED_SHORT": weakSeed])
        XCTAssertEqual(gw.get("/code?label=short")?.status, 200, "a weak seed still serves")
        let weak = gw.process.logLines.filter { $0["event"] as? String == "weak_seed" }
        XCTAssertEqual(weak.count, 1, gw.process.stderr)
        XCTAssertEqual(weak.first?["level"] as? String, "warning")
        XCTAssertEqual(weak.first?["label"] as? String, "short")
        XCTAssertEqual(weak.first?["source"] as? String, "environment variable TOTP_SEED_SHORT")
        XCTAssertTrue((weak.first?["message"] as? String)?.contains("only 80 bits") == true, "\(weak)")
        let line = gw.process.stderr.split(separator: "\n").first { $0.contains("\"weak_seed\"") }.map(String.init) ?? ""
        XCTAssertNil(SecretScan.leakedPiece(of: [weakSeed], in: line), line)
        let metrics = (gw.get("/metrics")?.bodyText ?? "")
        XCTAssertTrue(metrics.contains("\ngateway_seeds_weak 1\n"), metrics)
        XCTAssertTrue(metrics.contains("\ngateway_seeds_loaded 3\n"), metrics)
        // The strong harness seeds alone count 0.
        let strong = try GatewayHarness()
        XCTAssertTrue((strong.get("/metrics")?.bodyText ?? "").contains("\ngateway_seeds_weak 0\n"))
        XCTAssertFalse(strong.process.stderr.contains("weak_seed"))
    }

    func testSigtermDrainOrder() throws {
        let gw = try GatewayHarness(extra: ["GATEWAY_DRAIN_SECONDS": "1.5"])
        let keepAlive = try RawHTTP(port: gw.port)
        defer { keepAlive.close() }
        try keepAlive.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual((try? keepAlive.readResponse())?.status, 200)
        gw.process.signal(SIGTERM)
        // /healthz turns 503 at once while /code still serves.
        XCTAssertTrue(TestProcess.waitUntil(timeout: 1) { gw.get("/healthz")?.status == 503 })
        XCTAssertEqual(gw.get("/healthz")?.json["status"] as? String, "draining")
        XCTAssertEqual(gw.get("/code?label=demo")?.status, 200)
        // The kept-alive connection still serves during the drain period.
        try keepAlive.send("GET /code?label=demo HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(GatewayHarness.botToken)\r\n\r\n")
        XCTAssertEqual((try? keepAlive.readResponse())?.status, 200)
        XCTAssertEqual(gw.process.process.isRunning, true, "still serving during the drain period")
        // A request caught half-sent when the listener closes keeps the process up until it is done.
        let inFlight = try RawHTTP(port: gw.port)
        defer { inFlight.close() }
        try inFlight.send("GET /code?label=demo HTTP/1.1\r\nHost: a\r\n")
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { gw.process.logLines.contains { $0["event"] as? String == "closing_listener" } })
        // After the drain period: the idle keep-alive connection is closed while the process still
        // runs (waiting for the in-flight request), and new connections are refused.
        XCTAssertTrue(keepAlive.peerClosed(), "idle keep-alive connection closed at the end of the drain")
        XCTAssertEqual(gw.process.process.isRunning, true)
        // The listener closes once every loop has let go of it (just after the log line).
        XCTAssertTrue(TestProcess.waitUntil(timeout: 2) { (try? RawHTTP(port: gw.port)) == nil }, "new connections refused")
        try inFlight.send("Authorization: Bearer \(GatewayHarness.botToken)\r\n\r\n")
        let finished = (try? inFlight.readResponse())
        XCTAssertEqual(finished?.status, 200, "the in-flight request finishes")
        XCTAssertEqual(finished?.header("Connection"), "close")
        XCTAssertEqual(gw.process.waitForExit(timeout: 15), 0)
        XCTAssertNil(try? RawHTTP(port: gw.port))
        let events = gw.process.logLines.compactMap { $0["event"] as? String }
        let order = ["draining", "closing_listener", "stopped"].map { events.firstIndex(of: $0) ?? -1 }
        XCTAssertEqual(order, order.sorted())
        XCTAssertFalse(order.contains(-1), "\(events)")
    }

    func testSecondSignalStopsAtOnce() throws {
        let gw = try GatewayHarness(extra: ["GATEWAY_DRAIN_SECONDS": "30"])
        gw.process.signal(SIGTERM)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 2) { gw.get("/healthz")?.status == 503 })
        gw.process.signal(SIGTERM)
        XCTAssertEqual(gw.process.waitForExit(timeout: 5), 1)
    }

    func testMetricsPassPromtool() throws {
        let gw = try GatewayHarness()
        _ = gw.get("/code?label=demo")
        _ = gw.get("/code?label=demo", token: "bad")
        let metrics = try XCTUnwrap(gw.get("/metrics"))
        XCTAssertEqual(metrics.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        let path = gw.dir + "/metrics.txt"
        try Data(metrics.body).write(to: URL(fileURLWithPath: path))
        let check = TestProcess.run("/bin/sh", ["-c", "/usr/bin/promtool check metrics < \(path)"])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        let text = String(decoding: metrics.body, as: UTF8.self)
        for family in ["gateway_requests_total", "gateway_request_duration_seconds_bucket", "gateway_codes_issued_total",
            "gateway_auth_failures_total", "gateway_rate_limited_total", "gateway_open_connections", "gateway_inflight_requests",
            "gateway_seeds_loaded", "gateway_config_generation", "gateway_config_info", "gateway_reloads_total",
            "gateway_last_reload_timestamp_seconds", "gateway_clock_synchronized", "gateway_build_info",
            "process_resident_memory_bytes", "process_open_fds"]
        {
            XCTAssertTrue(text.contains(family + "{") || text.contains(family + " "), "missing \(family)")
        }
        // The earlier connections closed client-side; the server may close them just after.
        XCTAssertTrue(TestProcess.waitUntil(timeout: 3) {
            (gw.get("/metrics")?.bodyText ?? "").contains("gateway_open_connections 1\n")
        }, "once the earlier connections are closed, the scrape itself is the one open connection")
    }

    func testLogsNeverContainSeedsTokensOrCodes() throws {
        let gw = try GatewayHarness(extra: ["GATEWAY_LOG_LEVEL": "debug"])
        var codes: [String] = []
        for label in ["demo", "rfc"] {
            if let c = gw.get("/code?label=\(label)&next=1")?.json {
                codes += [c["code"] as? String, c["next_code"] as? String].compactMap { $0 }
            }
        }
        _ = gw.get("/code?label=demo", token: "wrong-token-value-xyz")
        _ = gw.get("/code?label=rfc", token: GatewayHarness.limitedToken)
        gw.process.signal(SIGTERM)
        gw.process.waitForExit(timeout: 10)
        let log = gw.process.stderr + gw.process.stdout
        XCTAssertTrue(log.contains("code_request"), "audit lines were written")
        XCTAssertEqual(codes.count, 4)
        for secret in [GatewayHarness.seed, GatewayHarness.rfcSeed, GatewayHarness.botToken, GatewayHarness.limitedToken,
            "wrong-token-value-xyz"] + codes
        {
            XCTAssertFalse(log.contains(secret), "a secret or code reached the log")
        }
    }

    func testAuditFileWithCodeHMAC() throws {
        let dir = GatewayHarness.makeDirectory()
        let key = dir + "/audit.key"
        FileManager.default.createFile(atPath: key, contents: Data("00112233445566778899aabbccddeeff\n".utf8), attributes: [.posixPermissions: 0o600])
        let gw = try GatewayHarness(extra: ["GATEWAY_AUDIT_FILE": dir + "/audit.log", "GATEWAY_AUDIT_KEY_FILE": key], dir: dir)
        let code = try XCTUnwrap(gw.get("/code?label=demo")?.json["code"] as? String)
        var lines: [[String: Any]] = []
        XCTAssertTrue(TestProcess.waitUntil(timeout: 2) {
            let text = (try? String(contentsOfFile: dir + "/audit.log", encoding: .utf8)) ?? ""
            lines = text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
            return !lines.isEmpty
        })
        XCTAssertEqual(lines.first?["outcome"] as? String, "issued")
        let openssl = TestProcess.run("/bin/sh", ["-c", "printf 'demo:\(code)' | openssl dgst -sha256 -hmac 00112233445566778899aabbccddeeff -r"])
        XCTAssertEqual(lines.first?["code_hmac"] as? String, String(openssl.stdout.prefix(64)), "an operator can recompute it with openssl")
    }

    func testCheckConfigAndStartupErrors() throws {
        let bin = GatewayHarness.binary
        let ok = TestProcess.run(bin, ["--check-config"], environment: ["TOTP_SEED_A": GatewayHarness.seed, "GATEWAY_TOKENS": "t:secret-value-3Mk8Wz2Qr7Yt5H:*"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("configuration ok"))
        let bad = TestProcess.run(bin, ["--check-config"], environment: ["TOTP_SEED_A": "JBSW1" + GatewayHarness.seed, "GATEWAY_LISTEN": "nope"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("TOTP_SEED_A"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("position 5"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("GATEWAY_LISTEN"), bad.stderr)
        XCTAssertFalse(bad.stderr.contains(GatewayHarness.seed))
        let serve = TestProcess.run(bin, ["--listen", "127.0.0.1:0"], environment: ["TOTP_SEED_A": ""], timeout: 10)
        XCTAssertEqual(serve.status, 2)
        XCTAssertTrue(serve.stderr.contains("empty"), serve.stderr)
        XCTAssertEqual(TestProcess.run(bin, ["--bogus"]).status, 2)
        let help = TestProcess.run(bin, ["--help"])
        XCTAssertEqual(help.status, 0)
        for word in ["GATEWAY_LISTEN", "GATEWAY_TOKENS", "TOTP_SEED_", "GATEWAY_SEEDS_FILE", "seal-seeds", "--check-config", "--healthcheck",
            "GATEWAY_RATE_LIMIT", "GATEWAY_AUDIT_FILE", "GATEWAY_METRICS_TOKEN", "GATEWAY_DRAIN_SECONDS", "LABELS", "API_KEY"]
        {
            XCTAssertTrue(help.stdout.contains(word), "--help does not document \(word)")
        }
    }

    func testSealSeedsThenServeAndRefuseTampering() throws {
        let dir = GatewayHarness.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bin = GatewayHarness.binary
        FileManager.default.createFile(atPath: dir + "/plain", contents: Data("rfc = otpauth://totp/x?secret=\(GatewayHarness.rfcSeed)&digits=8 check=94287082@59\n".utf8))
        _ = TestProcess.run("/bin/sh", ["-c", "umask 077; openssl rand -hex 32 > \(dir)/key"])
        let seal = TestProcess.run(bin, ["seal-seeds", dir + "/plain", dir + "/sealed", "--key-file", dir + "/key"])
        XCTAssertEqual(seal.status, 0, seal.stderr)
        let sealed = try String(contentsOfFile: dir + "/sealed", encoding: .utf8)
        XCTAssertFalse(sealed.contains(GatewayHarness.rfcSeed))
        let check = TestProcess.run(bin, ["--check-config"], environment: ["GATEWAY_SEEDS_FILE": dir + "/sealed", "GATEWAY_SEEDS_KEY_FILE": dir + "/key"])
        XCTAssertEqual(check.status, 0, check.stderr)
        // A wrong self-check is refused at sealing time.
        FileManager.default.createFile(atPath: dir + "/wrong", contents: Data("rfc = \(GatewayHarness.rfcSeed) check=94287082@59\n".utf8))
        let refused = TestProcess.run(bin, ["seal-seeds", dir + "/wrong", dir + "/out", "--key-file", dir + "/key"])
        XCTAssertEqual(refused.status, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))
        // Tampering: swap the entry's label.
        try sealed.replacingOccurrences(of: "\nrfc ", with: "\nrfx ").write(toFile: dir + "/tampered", atomically: true, encoding: .utf8)
        let tampered = TestProcess.run(bin, ["--check-config"], environment: ["GATEWAY_SEEDS_FILE": dir + "/tampered", "GATEWAY_SEEDS_KEY_FILE": dir + "/key"])
        XCTAssertEqual(tampered.status, 2)
        XCTAssertTrue(tampered.stderr.contains("does not authenticate"), tampered.stderr)
    }

    func testHealthcheckProbe() throws {
        let gw = try GatewayHarness()
        XCTAssertEqual(TestProcess.run(GatewayHarness.binary, ["--healthcheck", "http://127.0.0.1:\(gw.port)/healthz"]).status, 0)
        XCTAssertEqual(TestProcess.run(GatewayHarness.binary, ["--healthcheck", "http://127.0.0.1:\(gw.port)/nothing"]).status, 1)
        XCTAssertEqual(TestProcess.run(GatewayHarness.binary, ["--healthcheck", "http://127.0.0.1:1/healthz"]).status, 1)
    }
}
