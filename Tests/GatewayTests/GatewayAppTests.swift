import TestSupport
import XCTest
@testable import Gateway
@testable import Platform
@testable import Crypto
@testable import HTTPServer

/// The handler in-process with injected clocks: every status and field, deterministic metrics.
final class GatewayAppTests: XCTestCase {
    let seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  // RFC 6238 SHA1 seed

    func makeApp(env extra: [String: String] = [:], rate: String = "off", now: Int64 = 59, mono: Double = 100) throws -> (GatewayApp, LogSink) {
        var env = [
            "TOTP_SEED_RFC": "otpauth://totp/x?secret=\(seed)&digits=8",
            "TOTP_SEED_DEMO": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            "GATEWAY_TOKENS": "bot:bot-secret-7Hq2Xv9Lm4Rt8Kw3:*;limited:limited-secret-4Tz8Bm2Qw6Yc9Fv:demo",
            "GATEWAY_INSTANCE": "gw-a",
            "GATEWAY_RATE_LIMIT": rate,
        ]
        for (k, v) in extra { env[k] = v }
        let e = Environment(env)
        let config = try GatewayConfiguration.load(environment: e, listenOverride: nil)
        let snap = try GatewaySnapshot.load(environment: e, generation: 1, loadedAt: 1_700_000_000)
        let sink = LogSink.memory()
        let log = Logger(component: "gateway", sink: sink, now: { (now, 0) })
        let audit = AuditLog(sink: sink, key: Array("0123456789abcdef0123".utf8))
        let app = GatewayApp(configuration: config, snapshot: snap, logger: log, audit: audit, wallClock: { (now, 0) },
            monotonic: { mono }, clockStatus: { ClockStatus(synchronized: false, maxErrorSeconds: 16, estimatedErrorSeconds: 0, state: "error") })
        return (app, sink)
    }

    func request(_ target: String, token: String? = "bot-secret-7Hq2Xv9Lm4Rt8Kw3", headers: [(String, String)] = [], remote: String = "127.0.0.1") -> HTTPRequest {
        var h = headers
        if let token { h.append(("Authorization", "Bearer \(token)")) }
        let parts = target.split(separator: "?", maxSplits: 1)
        return HTTPRequest(path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : nil, headers: HTTPHeaders(h), remoteAddress: remote)
    }

    func json(_ r: HTTPResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] ?? [:]
    }

    func header(_ r: HTTPResponse, _ name: String) -> String? { r.headers.first { $0.0.lowercased() == name.lowercased() }?.1 }

    func testIssuedCodeFieldsAndHeaders() throws {
        let (app, _) = try makeApp()
        let r = app.handle(request("/code?label=RFC&next=1", headers: [("X-Request-ID", "abc-123")]))
        XCTAssertEqual(r.status, 200)
        let j = json(r)
        XCTAssertEqual(j["label"] as? String, "rfc")
        XCTAssertEqual(j["code"] as? String, "94287082")  // RFC 6238 at t=59
        XCTAssertEqual(j["period"] as? Int, 30)
        XCTAssertEqual(j["digits"] as? Int, 8)
        XCTAssertEqual(j["algorithm"] as? String, "SHA1")
        XCTAssertEqual(j["remaining"] as? Int, 1)
        XCTAssertEqual(j["expires_at"] as? Int, 60)
        XCTAssertEqual(j["instance"] as? String, "gw-a")
        XCTAssertEqual(j["next_expires_at"] as? Int, 90)
        XCTAssertEqual((j["next_code"] as? String)?.count, 8)
        XCTAssertEqual(header(r, "Content-Type"), "application/json")
        XCTAssertEqual(header(r, "Cache-Control"), "no-store")
        XCTAssertEqual(header(r, "X-Request-ID"), "abc-123")
        let plain = json(app.handle(request("/code?label=rfc")))
        XCTAssertNil(plain["next_code"])
    }

    func testRefusalStatuses() throws {
        let (app, _) = try makeApp()
        let cases: [(HTTPRequest, Int, String)] = [
            (request("/code"), 400, "bad_request"),
            (request("/code?label="), 400, "bad_request"),
            (request("/code?label=-bad"), 400, "bad_request"),
            (request("/code?label=rfc&label=demo"), 400, "bad_request"),
            (request("/code?label=rfc&next=maybe"), 400, "bad_request"),
            (request("/code?label=rfc", token: nil), 401, "unauthorized"),
            (request("/code?label=rfc", token: "wrong"), 401, "unauthorized"),
            (request("/code?label=rfc", token: "limited-secret-4Tz8Bm2Qw6Yc9Fv"), 403, "forbidden"),
            (request("/code?label=nosuch", token: "limited-secret-4Tz8Bm2Qw6Yc9Fv"), 403, "forbidden"),
            (request("/code?label=nosuch"), 404, "not_found"),
            (request("/nothing"), 404, "not_found"),
        ]
        for (req, status, error) in cases {
            let r = app.handle(req)
            XCTAssertEqual(r.status, status, req.target)
            XCTAssertEqual(json(r)["error"] as? String, error, req.target)
            XCTAssertNotNil(json(r)["message"] as? String, req.target)
            if status == 401 { XCTAssertTrue(header(r, "WWW-Authenticate")?.hasPrefix("Bearer") ?? false) }
        }
        let basic = app.handle(request("/code?label=rfc", token: nil, headers: [("Authorization", "Basic Ym90OmJvdC1zZWNyZXQ=")]))
        XCTAssertEqual(basic.status, 401)
        // Restricted tokens see the same answer for a forbidden and a missing label.
        let a = app.handle(request("/code?label=rfc", token: "limited-secret-4Tz8Bm2Qw6Yc9Fv"))
        let b = app.handle(request("/code?label=nosuch", token: "limited-secret-4Tz8Bm2Qw6Yc9Fv"))
        XCTAssertEqual(a.body, b.body)
    }

    /// `GET /labels`: what the token may request, with parameters and never a seed or a code;
    /// refused like `/code`.
    func testLabelsListWhatTheTokenMayRequest() throws {
        let (app, sink) = try makeApp(env: ["TOTP_SEED_GH": "otpauth://totp/GitHub:x?secret=\(seed)&algorithm=SHA256&digits=8&period=60"])
        let all = app.handle(request("/labels", headers: [("X-Request-ID", "l-1")]))
        XCTAssertEqual(all.status, 200)
        XCTAssertEqual(String(decoding: all.body, as: UTF8.self),
            #"{"labels":[{"label":"demo","algorithm":"SHA1","digits":6,"period":30},{"label":"gh","algorithm":"SHA256","digits":8,"period":60},"#
            + #"{"label":"rfc","algorithm":"SHA1","digits":8,"period":30}],"instance":"gw-a"}"#)
        XCTAssertEqual(header(all, "X-Request-ID"), "l-1")
        XCTAssertEqual(header(all, "Cache-Control"), "no-store")
        let limited = json(app.handle(request("/labels", token: "limited-secret-4Tz8Bm2Qw6Yc9Fv")))
        XCTAssertEqual((limited["labels"] as? [[String: Any]])?.compactMap { $0["label"] as? String }, ["demo"])
        for (r, status) in [(request("/labels", token: nil), 401), (request("/labels", token: "wrong"), 401),
                            (request("/labels", token: nil, headers: [("Authorization", "Basic eDp5")]), 401)] {
            let answer = app.handle(r)
            XCTAssertEqual(answer.status, status)
            XCTAssertEqual(json(answer)["error"] as? String, "unauthorized")
            XCTAssertNotNil(header(answer, "WWW-Authenticate"))
        }
        XCTAssertFalse(sink.captured.joined().contains(seed), "no seed anywhere")
        // A token whose labels this gateway does not have: 403, as /code would answer.
        let (other, _) = try makeApp(env: ["GATEWAY_TOKENS": "bot:bot-secret-7Hq2Xv9Lm4Rt8Kw3:nosuch"])
        let refused = other.handle(request("/labels"))
        XCTAssertEqual(refused.status, 403)
        XCTAssertEqual(json(refused)["error"] as? String, "forbidden")
        // Without tokens, only the insecure demo mode lists anything.
        let (open, _) = try makeApp(env: ["GATEWAY_TOKENS": "", "GATEWAY_INSECURE_NO_AUTH": "1"])
        XCTAssertEqual(open.handle(request("/labels", token: nil)).status, 200)
        let (closed, _) = try makeApp(env: ["GATEWAY_TOKENS": ""])
        XCTAssertEqual(closed.handle(request("/labels", token: nil)).status, 401)
        XCTAssertTrue(app.metrics.registry.render().contains(#"gateway_requests_total{route="/labels",status="200"} 2"#))
    }

    func testRateLimitWithRetryAfter() throws {
        let (app, _) = try makeApp(rate: "2/min")
        XCTAssertEqual(app.handle(request("/code?label=rfc")).status, 200)
        XCTAssertEqual(app.handle(request("/code?label=rfc")).status, 200)
        let r = app.handle(request("/code?label=rfc"))
        XCTAssertEqual(r.status, 429)
        XCTAssertEqual(header(r, "Retry-After"), "30")
        XCTAssertEqual(json(r)["error"] as? String, "rate_limited")
        // Buckets are per token.
        XCTAssertEqual(app.handle(request("/code?label=demo", token: "limited-secret-4Tz8Bm2Qw6Yc9Fv")).status, 200)
    }

    func testNoTokensRefusesUnlessInsecure() throws {
        let (strict, _) = try makeApp(env: ["GATEWAY_TOKENS": ""])
        let r = strict.handle(request("/code?label=rfc", token: nil))
        XCTAssertEqual(r.status, 401)
        XCTAssertTrue((json(r)["message"] as? String ?? "").contains("GATEWAY_TOKENS"))
        let (open, _) = try makeApp(env: ["GATEWAY_TOKENS": "", "GATEWAY_INSECURE_NO_AUTH": "1"])
        XCTAssertEqual(open.handle(request("/code?label=rfc", token: nil)).status, 200)
        let (legacy, _) = try makeApp(env: ["GATEWAY_TOKENS": "", "API_KEY": "legacy-key-5Gh9Pz3Kx7Wm2Ds"])
        XCTAssertEqual(legacy.handle(request("/code?label=rfc", token: "legacy-key-5Gh9Pz3Kx7Wm2Ds")).status, 200)
    }

    func testHashedTokenSecret() throws {
        let hash = Crypto.hex(Crypto.sha256(Array("hashed-secret".utf8)))
        let (app, _) = try makeApp(env: ["GATEWAY_TOKENS": "h:sha256:\(hash):rfc"])
        XCTAssertEqual(app.handle(request("/code?label=rfc", token: "hashed-secret")).status, 200)
        XCTAssertEqual(app.handle(request("/code?label=rfc", token: "sha256:\(hash)")).status, 401)
    }

    func testHealthzAndDraining() throws {
        let (app, _) = try makeApp()
        var r = app.handle(request("/healthz", token: nil))
        XCTAssertEqual(r.status, 200)
        let j = json(r)
        XCTAssertEqual(j["status"] as? String, "ok")
        XCTAssertEqual(j["instance"] as? String, "gw-a")
        XCTAssertEqual(j["labels"] as? Int, 2)
        XCTAssertEqual(j["generation"] as? Int, 1)
        XCTAssertEqual(j["config"] as? String, app.snapshot.seeds.fingerprint)
        XCTAssertEqual((j["clock"] as? [String: Any])?["synchronized"] as? Bool, false)
        app.startDraining()
        r = app.handle(request("/healthz", token: nil))
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(json(r)["status"] as? String, "draining")
        XCTAssertEqual(app.handle(request("/code?label=rfc")).status, 200, "/code keeps serving while draining")
        let (strict, _) = try makeApp(env: ["GATEWAY_REQUIRE_CLOCK_SYNC": "1"])
        XCTAssertEqual(strict.handle(request("/healthz", token: nil)).status, 503)
    }

    func testMetricsToken() throws {
        let (app, _) = try makeApp(env: ["GATEWAY_METRICS_TOKEN": "scrape-me"])
        XCTAssertEqual(app.handle(request("/metrics", token: nil)).status, 401)
        XCTAssertEqual(app.handle(request("/metrics", token: "nope")).status, 401)
        XCTAssertEqual(app.handle(request("/metrics", token: "scrape-me")).status, 200)
    }

    /// Issue 9 item 4: per-label series name every label and when each is fetched, so they
    /// appear only behind GATEWAY_METRICS_TOKEN or when asked for.
    func testPerLabelSeriesOnlyBehindTheMetricsTokenOrWhenAskedFor() throws {
        func issuedSeries(_ env: [String: String], scrape token: String?) throws -> [String] {
            let (app, _) = try makeApp(env: env)
            _ = app.handle(request("/code?label=rfc"))
            let text = String(decoding: app.handle(request("/metrics", token: token)).body, as: UTF8.self)
            return text.split(separator: "\n").filter { $0.hasPrefix("gateway_codes_issued_total") }.map(String.init)
        }
        XCTAssertEqual(try issuedSeries([:], scrape: nil), ["gateway_codes_issued_total 1"], "open /metrics names no label")
        XCTAssertEqual(try issuedSeries(["GATEWAY_METRICS_TOKEN": "scrape-me"], scrape: "scrape-me"),
            ["gateway_codes_issued_total{label=\"demo\"} 0", "gateway_codes_issued_total{label=\"rfc\"} 1"])
        XCTAssertEqual(try issuedSeries(["GATEWAY_METRICS_TOKEN": "scrape-me", "GATEWAY_METRICS_PER_LABEL": "0"], scrape: "scrape-me"),
            ["gateway_codes_issued_total 1"])
        XCTAssertEqual(try issuedSeries(["GATEWAY_METRICS_PER_LABEL": "1"], scrape: nil).count, 2)
    }

    func testAuditLinesCarryDecisionNotCode() throws {
        let (app, sink) = try makeApp(env: ["GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8"])
        let issued = app.handle(request("/code?label=rfc", headers: [("X-Forwarded-For", "192.0.2.7")], remote: "10.1.2.3"))
        _ = app.handle(request("/code?label=rfc", token: "limited-secret-4Tz8Bm2Qw6Yc9Fv", headers: [("X-Forwarded-For", "192.0.2.8")], remote: "127.0.0.1"))
        app.audit.flush()
        let lines = sink.captured.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
            .filter { $0["event"] as? String == "code_request" }
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0]["outcome"] as? String, "issued")
        XCTAssertEqual(lines[0]["token"] as? String, "bot")
        XCTAssertEqual(lines[0]["label"] as? String, "rfc")
        XCTAssertEqual(lines[0]["remote"] as? String, "10.1.2.3")
        XCTAssertEqual(lines[0]["forwarded_for"] as? String, "192.0.2.7", "trusted proxy")
        XCTAssertEqual(lines[0]["code_hmac"] as? String,
            AuditLog.codeHMAC(key: Array("0123456789abcdef0123".utf8), label: "rfc", code: "94287082"))
        XCTAssertNotNil(lines[0]["request_id"] as? String)
        XCTAssertEqual(lines[1]["outcome"] as? String, "refused_forbidden")
        XCTAssertNil(lines[1]["forwarded_for"], "untrusted peer's X-Forwarded-For is not believed")
        let code = json(issued)["code"] as! String
        XCTAssertFalse(sink.captured.joined().contains(code), "the code never reaches a log")
        XCTAssertFalse(sink.captured.joined().contains("bot-secret-7Hq2Xv9Lm4Rt8Kw3"))
    }

    func testLongestLabelRequestIDAndALongInstanceNameAreServedAndAuditedWhole() throws {
        // The JSON body and the audit line are written into buffers sized from estimates: the
        // longest values must come out whole (issue 10: a short estimate once trapped).
        let label = String(repeating: "abcdefghi-", count: 6) + "xyz"  // 63, the longest label
        let requestID = String(repeating: "Ab9-_.:x", count: 16)      // 128, the longest kept as sent
        let instance = String(repeating: "gw \"ü\\ ", count: 250)     // 2000 characters, escaped in JSON
        XCTAssertEqual(label.count, 63)
        XCTAssertEqual(requestID.count, 128)
        let forwarded = (0..<40).map { "192.0.2.\($0)" }.joined(separator: ", ")
        let (app, sink) = try makeApp(env: [
            "TOTP_SEED_" + label.uppercased().replacingOccurrences(of: "-", with: "_"): seed,
            "GATEWAY_INSTANCE": instance, "GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8",
        ])
        let issued = app.handle(request(
            "/code?label=\(label)&next=1", headers: [("X-Request-ID", requestID), ("X-Forwarded-For", forwarded)], remote: "10.1.2.3"))
        XCTAssertEqual(issued.status, 200)
        let body = json(issued)
        XCTAssertEqual(body["label"] as? String, label)
        XCTAssertEqual(body["instance"] as? String, instance)
        XCTAssertEqual((body["code"] as? String)?.count, 6)
        XCTAssertEqual((body["next_code"] as? String)?.count, 6)
        XCTAssertEqual(header(issued, "X-Request-ID"), requestID)
        let refused = app.handle(request(
            "/code?label=\(label)", token: "limited-secret-4Tz8Bm2Qw6Yc9Fv", headers: [("X-Request-ID", requestID), ("X-Forwarded-For", forwarded)],
            remote: "10.1.2.3"))
        XCTAssertEqual(refused.status, 403)
        app.audit.flush()
        let lines = sink.captured.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
            .filter { $0["event"] as? String == "code_request" }
        XCTAssertEqual(lines.map { $0["outcome"] as? String }, ["issued", "refused_forbidden"])
        for line in lines {
            XCTAssertEqual(line["label"] as? String, label)
            XCTAssertEqual(line["request_id"] as? String, requestID)
            XCTAssertEqual(line["forwarded_for"] as? String, forwarded)
        }
    }

    func testAuditLinesAreWrittenBeforeRecordReturnsWholeFromEveryThread() throws {
        let tmp = TemporaryDirectory(prefix: "audit")
        let path = tmp.path + "/audit.log"
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let audit = AuditLog(sink: .fileDescriptor(fd), key: nil)
        // One line is in the file when record returns: nothing is buffered for later.
        XCTAssertTrue(audit.record(time: (1_700_000_000, 0), token: "bot", label: "demo", outcome: "issued", status: 200,
            remote: "127.0.0.1", forwardedFor: nil, requestID: "first", code: nil))
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count, 1)
        // Four threads at once: O_APPEND writes of whole lines never interleave.
        let perThread = 200
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for i in 0..<perThread {
                XCTAssertTrue(audit.record(time: (1_700_000_000, Int64(i)), token: "bot", label: "demo", outcome: "issued", status: 200,
                    remote: "127.0.0.1", forwardedFor: nil, requestID: "t\(t)-\(i)", code: nil))
            }
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let ids = lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }.compactMap { $0["request_id"] as? String }
        XCTAssertEqual(lines.count, 1 + 4 * perThread)
        XCTAssertEqual(Set(ids).count, 1 + 4 * perThread, "every line whole and present once")
        XCTAssertEqual(audit.failures, 0)
    }

    func testAuditWriteFailureRefusesTheCodeAndDegradesHealthz() throws {
        let (app, sink) = try makeApp()
        // /dev/full: every write fails with ENOSPC, like a full disk.
        let fd = open("/dev/full", O_WRONLY | O_APPEND | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let logSink = LogSink.memory()
        let audit = AuditLog(sink: .fileDescriptor(fd), key: nil, logger: Logger(component: "audit", sink: logSink))
        let full = GatewayApp(configuration: app.configuration, snapshot: app.snapshot, logger: Logger(component: "gateway", sink: sink),
            audit: audit, wallClock: { (59, 0) }, monotonic: { 100 },
            clockStatus: { ClockStatus(synchronized: true, maxErrorSeconds: 0, estimatedErrorSeconds: 0, state: "ok") })
        for _ in 0..<3 {
            let r = full.handle(request("/code?label=rfc"))
            XCTAssertEqual(r.status, 503)
            XCTAssertEqual(json(r)["error"] as? String, "audit_unavailable")
            XCTAssertNil(json(r)["code"], "no code leaves without its audit line")
            XCTAssertFalse(String(decoding: r.body, as: UTF8.self).contains("94287082"))
        }
        XCTAssertEqual(full.handle(request("/healthz", token: nil)).status, 503)
        XCTAssertEqual(json(full.handle(request("/healthz", token: nil)))["status"] as? String, "audit_failing")
        XCTAssertEqual(logSink.captured.filter { $0.contains("audit_write_failed") }.count, 1, "logged once, not per request")
        let text = String(decoding: full.handle(request("/metrics", token: nil)).body, as: UTF8.self)
        XCTAssertTrue(text.contains("gateway_audit_write_failures_total 3\n"), text)
        XCTAssertTrue(text.contains("gateway_audit_failing 1\n"), text)
        XCTAssertTrue(text.contains("gateway_codes_issued_total 0\n"), text)
    }

    func testReloadSwapsSnapshotAndMetrics() throws {
        let (app, _) = try makeApp(env: ["GATEWAY_METRICS_PER_LABEL": "1"])
        let next = try GatewaySnapshot.load(environment: Environment(["TOTP_SEED_NEW": seed, "GATEWAY_TOKENS": "bot:bot-secret-7Hq2Xv9Lm4Rt8Kw3:*"]),
            generation: 2, loadedAt: 1_700_000_100)
        app.activate(next)
        XCTAssertEqual(app.handle(request("/code?label=new")).status, 200)
        XCTAssertEqual(app.handle(request("/code?label=rfc")).status, 404)
        let text = String(decoding: app.handle(request("/metrics", token: nil)).body, as: UTF8.self)
        XCTAssertTrue(text.contains("gateway_config_generation 2"))
        XCTAssertFalse(text.contains("gateway_codes_issued_total{label=\"rfc\"}"), "removed labels leave the metrics")
        XCTAssertTrue(text.contains("gateway_config_info{fingerprint=\"\(next.seeds.fingerprint)\"} 1"))
    }

    /// Golden text of the gateway's own families (process_* values vary and are checked by promtool elsewhere).
    func testMetricsGolden() throws {
        let (app, _) = try makeApp()
        _ = app.handle(request("/code?label=rfc"))
        _ = app.handle(request("/code?label=rfc", token: "wrong"))
        _ = app.handle(request("/healthz", token: nil))
        let text = String(decoding: app.handle(request("/metrics", token: nil)).body, as: UTF8.self)
        let fp = app.snapshot.seeds.fingerprint
        let ours = text.split(separator: "\n").filter { !$0.contains("process_") && !$0.contains("gateway_request_duration_seconds") }
            .joined(separator: "\n")
        XCTAssertEqual(ours, """
            # HELP gateway_audit_failing 1 while the last audit line could not be written.
            # TYPE gateway_audit_failing gauge
            gateway_audit_failing 0
            # HELP gateway_audit_write_failures_total Audit lines that could not be written; each one's request got 503 and no code.
            # TYPE gateway_audit_write_failures_total counter
            gateway_audit_write_failures_total 0
            # HELP gateway_auth_failures_total Refused /code and /labels (and token-protected /metrics) requests by reason.
            # TYPE gateway_auth_failures_total counter
            gateway_auth_failures_total{reason="invalid_token"} 1
            # HELP gateway_build_info Build information; value is always 1.
            # TYPE gateway_build_info gauge
            gateway_build_info{version="1.0.0"} 1
            # HELP gateway_clock_max_error_seconds Maximum clock error reported by adjtimex.
            # TYPE gateway_clock_max_error_seconds gauge
            gateway_clock_max_error_seconds 16
            # HELP gateway_clock_synchronized 1 when the kernel reports the clock synchronized (adjtimex).
            # TYPE gateway_clock_synchronized gauge
            gateway_clock_synchronized 0
            # HELP gateway_codes_issued_total Codes handed out (GATEWAY_METRICS_PER_LABEL=1 splits it by label).
            # TYPE gateway_codes_issued_total counter
            gateway_codes_issued_total 1
            # HELP gateway_config_generation Generation of the active configuration (1 at start, +1 per successful reload).
            # TYPE gateway_config_generation gauge
            gateway_config_generation 1
            # HELP gateway_config_info Fingerprint of the active labels and parameters (not the seeds); value is always 1.
            # TYPE gateway_config_info gauge
            gateway_config_info{fingerprint="\(fp)"} 1
            # HELP gateway_draining 1 while the instance drains before exiting.
            # TYPE gateway_draining gauge
            gateway_draining 0
            # HELP gateway_last_reload_timestamp_seconds Unix time of the last successful configuration load.
            # TYPE gateway_last_reload_timestamp_seconds gauge
            gateway_last_reload_timestamp_seconds 1700000000
            # HELP gateway_log_lines_dropped_total Log lines dropped because stderr was not read fast enough (the backlog was full) or failed.
            # TYPE gateway_log_lines_dropped_total counter
            gateway_log_lines_dropped_total 0
            # HELP gateway_rate_limited_total Requests refused with 429 by the per-token rate limit.
            # TYPE gateway_rate_limited_total counter
            gateway_rate_limited_total 0
            # HELP gateway_reloads_total Configuration reloads by result.
            # TYPE gateway_reloads_total counter
            gateway_reloads_total{result="failure"} 0
            gateway_reloads_total{result="success"} 0
            # HELP gateway_requests_total HTTP requests by route and status.
            # TYPE gateway_requests_total counter
            gateway_requests_total{route="/code",status="200"} 1
            gateway_requests_total{route="/code",status="401"} 1
            gateway_requests_total{route="/healthz",status="200"} 1
            gateway_requests_total{route="/labels",status="200"} 0
            gateway_requests_total{route="/metrics",status="200"} 0
            # HELP gateway_seeds_loaded Seeds in the active configuration.
            # TYPE gateway_seeds_loaded gauge
            gateway_seeds_loaded 2
            # HELP gateway_seeds_weak Seeds shorter than 128 bits in the active configuration.
            # TYPE gateway_seeds_weak gauge
            gateway_seeds_weak 0
            """)
    }
}
