import Foundation
import TestSupport
import XCTest

/// The gateway as a real process against the failure modes operators hit: a log reader that
/// goes away, settings only serving would refuse, server-level refusals in `/metrics`, reloads
/// that would empty the configuration, audit details behind a proxy, HEAD, and systemd's
/// notify socket.
final class GatewayHardeningTests: XCTestCase {
    /// Starts the gateway with stderr on a pipe of `pipeSize` bytes, so a test can leave it
    /// unread or close its reading end.
    private func startOnPipe(extra: [String: String] = [:], pipeSize: Int32 = 0) throws -> (Process, Pipe, Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: GatewayHarness.binary)
        process.arguments = ["--listen", "127.0.0.1:0"]
        var env = GatewayHarness.baseEnvironment(dir: "/tmp")
        for (k, v) in extra { env[k] = v }
        process.environment = env
        let pipe = Pipe()
        // F_SETPIPE_SZ (1031): the smallest pipe fills after a few lines.
        if pipeSize > 0 { _ = fcntl(pipe.fileHandleForWriting.fileDescriptor, 1031, pipeSize) }
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Its log (with the port) goes to the pipe the test controls: ask the kernel instead.
        guard let port = ListeningPorts.wait(forProcess: process.processIdentifier, timeout: 10).first else {
            stop(process)
            throw NSError(domain: "GatewayHardeningTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "the gateway did not listen within 10 s"])
        }
        return (process, pipe, port)
    }

    private func stop(_ process: Process) {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    func testClosedStderrPipeDoesNotKillTheGateway() throws {
        let dir = GatewayHarness.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Audit lines go to a file: the log reader going away costs log lines, not codes.
        let (process, pipe, port) = try startOnPipe(extra: ["GATEWAY_AUDIT_FILE": dir + "/audit.log"])
        defer { stop(process) }
        XCTAssertTrue(TestProcess.waitUntil(timeout: 10) { RawHTTP.get(port: port, "/healthz")?.status == 200 })
        // The log reader goes away; log lines now meet a broken pipe: a reload writes one.
        try pipe.fileHandleForReading.close()
        kill(process.processIdentifier, SIGHUP)
        for _ in 0..<5 {
            XCTAssertEqual(RawHTTP.get(port: port, "/code?label=demo", headers: ["Authorization": "Bearer \(GatewayHarness.botToken)"])?.status, 200)
        }
        let auth = ["Authorization": "Bearer \(GatewayHarness.botToken)"]
        func droppedLogLines() -> Double {
            let text = RawHTTP.get(port: port, "/metrics", headers: auth)?.bodyText ?? ""
            let line = text.split(separator: "\n").first { $0.hasPrefix("gateway_log_lines_dropped_total ") }
            return line.flatMap { Double($0.split(separator: " ").last!) } ?? 0
        }
        XCTAssertTrue(TestProcess.waitUntil(timeout: 10) { !process.isRunning || droppedLogLines() > 0 }, "a log line met the broken pipe")
        XCTAssertTrue(process.isRunning, "SIGPIPE must not kill the gateway (exit status \(process.isRunning ? 0 : process.terminationStatus))")
        XCTAssertEqual(RawHTTP.get(port: port, "/healthz")?.status, 200)
    }

    func testAuditOnAClosedStderrFailsClosed() throws {
        // Audit lines on stderr, whose reader went away: a code whose line cannot be written is
        // not handed out (issue 9 item 5), and the process lives on.
        let (process, pipe, port) = try startOnPipe()
        defer { stop(process) }
        XCTAssertTrue(TestProcess.waitUntil(timeout: 10) { RawHTTP.get(port: port, "/healthz")?.status == 200 })
        try pipe.fileHandleForReading.close()
        let r = RawHTTP.get(port: port, "/code?label=demo", headers: ["Authorization": "Bearer \(GatewayHarness.botToken)"])
        XCTAssertEqual(r?.status, 503)
        XCTAssertEqual(r?.json["error"] as? String, "audit_unavailable")
        XCTAssertNil(r?.json["code"])
        XCTAssertEqual(RawHTTP.get(port: port, "/healthz")?.json["status"] as? String, "audit_failing")
        XCTAssertTrue(process.isRunning)
    }

    func testStderrNobodyReadsNeverStallsAnEventLoop() throws {
        // A 4 KiB stderr pipe nobody reads, audit lines on it: 600 requests write about 180 KB,
        // which waits in the log sink's bounded backlog instead of blocking the loops.
        let (process, pipe, port) = try startOnPipe(pipeSize: 4096)
        defer { stop(process) }
        _ = pipe
        XCTAssertTrue(TestProcess.waitUntil(timeout: 10) { RawHTTP.get(port: port, "/healthz", timeout: 2)?.status == 200 })
        var statuses: [Int: Int] = [:]
        for i in 0..<600 {
            let r = RawHTTP.get(port: port, "/code?label=demo", headers: ["Authorization": "Bearer \(GatewayHarness.botToken)"], timeout: 2)
            statuses[r?.status ?? 0, default: 0] += 1
            if i % 100 == 0 { XCTAssertEqual(RawHTTP.get(port: port, "/healthz", timeout: 2)?.status, 200, "after \(i) requests") }
            if r == nil { break }  // a stalled loop: the rest would only time out too
        }
        XCTAssertEqual(statuses, [200: 600], "every request answered, none stalled")
        XCTAssertEqual(RawHTTP.get(port: port, "/healthz", timeout: 2)?.status, 200)
    }

    func testStderrNobodyReadsWithAuditToAFileKeepsServing() throws {
        let dir = GatewayHarness.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (process, pipe, port) = try startOnPipe(extra: ["GATEWAY_AUDIT_FILE": dir + "/audit.log", "GATEWAY_LOG_LEVEL": "debug"], pipeSize: 4096)
        defer { stop(process) }
        _ = pipe
        XCTAssertTrue(TestProcess.waitUntil(timeout: 10) { RawHTTP.get(port: port, "/healthz", timeout: 2)?.status == 200 })
        var ok = 0
        for i in 0..<300 {
            if RawHTTP.get(port: port, "/code?label=demo", headers: ["Authorization": "Bearer \(GatewayHarness.botToken)"], timeout: 2)?.status == 200 { ok += 1 }
            if i % 100 == 0 { XCTAssertEqual(RawHTTP.get(port: port, "/healthz", timeout: 2)?.status, 200) }
        }
        XCTAssertEqual(ok, 300)
        let lines = try String(contentsOfFile: dir + "/audit.log", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 300, "every issued code has its audit line, written before the answer")
    }

    func testFullFileSystemForTheAuditFileFailsClosed() throws {
        // A real, small file system (tmpfs, 64 KiB) holding the audit file, filled up while
        // the gateway serves: each code is handed out only if its line was written.
        let dir = GatewayHarness.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mountPoint = dir + "/audit-fs"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard TestProcess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint]).status == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root)")
        }
        defer { _ = TestProcess.run("/bin/umount", ["-l", mountPoint]) }
        let gw = try GatewayHarness(extra: ["GATEWAY_AUDIT_FILE": mountPoint + "/audit.log"], dir: dir)
        // Leave a few KiB: some lines fit, then the disk is full.
        let filler = mountPoint + "/filler"
        _ = TestProcess.run("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=1k", "count=58"])
        var issued: [String] = []
        var refused = 0
        for _ in 0..<40 {
            let r = try XCTUnwrap(gw.get("/code?label=demo"))
            if r.status == 200 {
                issued.append(try XCTUnwrap(r.json["request_id"] as? String ?? r.header("X-Request-ID")))
            } else {
                XCTAssertEqual(r.status, 503)
                XCTAssertEqual(r.json["error"] as? String, "audit_unavailable")
                XCTAssertNil(r.json["code"], "no code leaves without its audit line")
                refused += 1
            }
        }
        XCTAssertGreaterThan(refused, 0, "the file system filled up")
        let text = try String(contentsOfFile: mountPoint + "/audit.log", encoding: .utf8)
        let written = text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
            .filter { $0["outcome"] as? String == "issued" }.compactMap { $0["request_id"] as? String }
        XCTAssertEqual(written, issued, "every code handed out has its audit line, and no other")
        XCTAssertEqual(gw.get("/healthz")?.json["status"] as? String, "audit_failing")
        XCTAssertEqual(gw.process.logLines.filter { $0["event"] as? String == "audit_write_failed" }.count, 1, "logged once")
        let metrics = (gw.get("/metrics")?.bodyText ?? "")
        XCTAssertTrue(metrics.contains("gateway_audit_write_failures_total \(refused)\n"), metrics)
        // Space again: the next code is written and handed out.
        XCTAssertEqual(unlink(filler), 0)
        XCTAssertEqual(gw.get("/code?label=demo")?.status, 200)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { gw.process.logLines.contains { $0["event"] as? String == "audit_write_recovered" } })
    }

    func testCheckConfigRefusesWhatServingWouldRefuse() {
        let env = GatewayHarness.baseEnvironment(dir: "/tmp")
        let named = TestProcess.run(GatewayHarness.binary, ["--check-config", "--listen", "localhost:8080"], environment: env)
        XCTAssertEqual(named.status, 2, named.stdout + named.stderr)
        XCTAssertTrue(named.stderr.contains("'localhost' is not an IPv4 or IPv6 address"), named.stderr)
        var audit = env
        audit["GATEWAY_AUDIT_FILE"] = "/nonexistent-dir-\(UUID().uuidString.prefix(6))/audit.log"
        let unwritable = TestProcess.run(GatewayHarness.binary, ["--check-config"], environment: audit)
        XCTAssertEqual(unwritable.status, 2, unwritable.stdout + unwritable.stderr)
        XCTAssertTrue(unwritable.stderr.contains("GATEWAY_AUDIT_FILE"), unwritable.stderr)
        // And serving refuses the same settings with the same exit code.
        let serve = TestProcess.run(GatewayHarness.binary, ["--listen", "localhost:0"], environment: env, timeout: 10)
        XCTAssertEqual(serve.status, 2, serve.stderr)
    }

    func testServerRefusalsAndTimeoutsAreCounted() throws {
        let gw = try GatewayHarness()
        XCTAssertEqual(gw.get("/code?label=demo", method: "POST")?.status, 405)
        let bad = try RawHTTP(port: gw.port)
        try bad.send("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        XCTAssertEqual((try? bad.readResponse())?.status, 400)
        bad.close()
        let big = try RawHTTP(port: gw.port)
        try big.send("GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "x", count: 20_000))\r\n\r\n")
        XCTAssertEqual((try? big.readResponse())?.status, 431)
        big.close()
        let text = (gw.get("/metrics")?.bodyText ?? "")
        XCTAssertTrue(text.contains("gateway_http_refused_total{status=\"405\"} 1\n"), text)
        XCTAssertTrue(text.contains("gateway_http_refused_total{status=\"400\"} 1\n"), text)
        XCTAssertTrue(text.contains("gateway_http_refused_total{status=\"431\"} 1\n"), text)
        XCTAssertTrue(text.contains("gateway_http_refused_total{status=\"414\"} 0\n"), "every status exists from the start")
        XCTAssertTrue(text.contains("gateway_http_timeouts_total{kind=\"header\"} 0\n"), text)
        XCTAssertTrue(text.contains("gateway_http_connections_rejected_total 0\n"), text)
    }

    func testReloadThatWouldRemoveEveryTokenIsRefused() throws {
        let dir = GatewayHarness.makeDirectory()
        let tokens = dir + "/tokens"
        FileManager.default.createFile(atPath: tokens, contents: Data("bot:\(GatewayHarness.botToken):*\n".utf8), attributes: [.posixPermissions: 0o600])
        var env = GatewayHarness.baseEnvironment(dir: dir)
        env["GATEWAY_TOKENS"] = nil
        env["GATEWAY_TOKENS_FILE"] = tokens
        let gw = try GatewayHarness(environment: env, dir: dir)
        XCTAssertEqual(gw.get("/code?label=demo")?.status, 200)
        // Emptied (a deploy caught half-way, say): the reload is refused and the old tokens stay.
        FileManager.default.createFile(atPath: tokens, contents: Data(), attributes: [.posixPermissions: 0o600])
        gw.process.signal(SIGHUP)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { gw.process.logLines.contains { $0["event"] as? String == "reload_failed" } })
        let failed = gw.process.logLines.first { $0["event"] as? String == "reload_failed" }
        XCTAssertTrue((failed?["message"] as? String ?? "").contains("no client tokens"), "\(failed ?? [:])")
        XCTAssertEqual(gw.get("/healthz")?.json["generation"] as? Int, 1)
        XCTAssertEqual(gw.get("/code?label=demo")?.status, 200)
    }

    private func auditLines(_ path: String, count: Int) -> [[String: Any]] {
        var lines: [[String: Any]] = []
        _ = TestProcess.waitUntil(timeout: 3) {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            lines = text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
            return lines.count >= count
        }
        return lines
    }

    func testAuditRecordsTheProxyChainTheRequestedLabelAndHeadChecks() throws {
        let dir = GatewayHarness.makeDirectory()
        let gw = try GatewayHarness(extra: ["GATEWAY_AUDIT_FILE": dir + "/audit.log", "GATEWAY_TRUSTED_PROXIES": "127.0.0.1",
            "GATEWAY_METRICS_PER_LABEL": "1"], dir: dir)
        // Two X-Forwarded-For fields, as when a proxy appends its own to the client's.
        let c = try RawHTTP(port: gw.port)
        try c.send("GET /code?label=demo HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(GatewayHarness.botToken)\r\n"
            + "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For: 198.51.100.7\r\nConnection: close\r\n\r\n")
        XCTAssertEqual((try? c.readResponse())?.status, 200)
        c.close()
        // Refused before the label step: the line still says which label was asked for.
        XCTAssertEqual(gw.get("/code?label=DEMO", token: "not-a-token")?.status, 401)
        // HEAD: same status and headers, no body, and no code counted as handed out.
        let head = try XCTUnwrap(gw.get("/code?label=demo", method: "HEAD"))
        XCTAssertEqual(head.status, 200)
        XCTAssertTrue(head.body.isEmpty)
        XCTAssertGreaterThan(Int(head.header("Content-Length") ?? "0") ?? 0, 0)

        let lines = auditLines(dir + "/audit.log", count: 3)
        XCTAssertEqual(lines.count, 3, "\(lines)")
        XCTAssertEqual(lines.first?["forwarded_for"] as? String, "192.0.2.1, 198.51.100.7")
        XCTAssertEqual(lines.dropFirst().first?["outcome"] as? String, "refused_invalid_token")
        XCTAssertEqual(lines.dropFirst().first?["label"] as? String, "demo")
        XCTAssertEqual(lines.last?["outcome"] as? String, "checked_head")
        XCTAssertNil(lines.last?["code_hmac"])
        let metrics = (gw.get("/metrics")?.bodyText ?? "")
        XCTAssertTrue(metrics.contains("gateway_codes_issued_total{label=\"demo\"} 1\n"), "HEAD is not counted as issued")
    }

    func testReadyAndWatchdogPingsReachTheNotifySocket() throws {
        let dir = GatewayHarness.makeDirectory()
        let notify = try NotifySocket(path: dir + "/notify.sock")
        let gw = try GatewayHarness(extra: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"], dir: dir)
        let messages = notify.collect(for: 1.5)
        XCTAssertTrue(messages.contains { $0.contains("READY=1") }, "\(messages)")
        // WatchdogSec=0.4 s: pinged every 0.2 s while the event loops turn.
        XCTAssertGreaterThanOrEqual(messages.filter { $0.contains("WATCHDOG=1") }.count, 4, "\(messages)")
        gw.process.signal(SIGTERM)
        XCTAssertTrue(notify.collect(for: 1).contains { $0.contains("STOPPING=1") })
    }

    func testHTTPLimitsAreConfigurable() throws {
        // One event loop: eviction picks the connection idle longest on the accepting loop.
        let gw = try GatewayHarness(extra: ["GATEWAY_HEADER_TIMEOUT_SECONDS": "0.5", "GATEWAY_MAX_CONNECTIONS": "2", "GATEWAY_EVENT_LOOPS": "1"])
        let silent = try RawHTTP(port: gw.port)
        defer { silent.close() }
        let started = Date()
        XCTAssertTrue(silent.peerClosed(), "a connection that sends nothing is closed after the header timeout")
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        let a = try RawHTTP(port: gw.port)
        let b = try RawHTTP(port: gw.port)
        let c = try RawHTTP(port: gw.port)
        defer { a.close(); b.close(); c.close() }
        // At GATEWAY_MAX_CONNECTIONS=2 the third connection is not refused: the one idle
        // longest (a, which never sent a byte) gives way to it (issue 9 item 1).
        XCTAssertTrue(a.peerClosed(), "a gives way to c at GATEWAY_MAX_CONNECTIONS=2")
        // Once b and c time out (and not before: a scrape would evict one), the metrics show
        // why a was closed.
        XCTAssertTrue(b.peerClosed() && c.peerClosed())
        let metrics = (gw.get("/metrics")?.bodyText ?? "")
        XCTAssertTrue(metrics.contains("gateway_http_connections_evicted_total 1\n"), metrics)
        XCTAssertTrue(metrics.contains("gateway_http_connections_rejected_total 0\n"), metrics)
        XCTAssertTrue(metrics.contains("gateway_http_timeouts_total{kind=\"header\"} 3\n"), metrics)
        var bad = GatewayHarness.baseEnvironment(dir: "/tmp")
        bad["GATEWAY_IDLE_TIMEOUT_SECONDS"] = "0"
        bad["GATEWAY_MAX_CONNECTIONS"] = "lots"
        let check = TestProcess.run(GatewayHarness.binary, ["--check-config"], environment: bad)
        XCTAssertEqual(check.status, 2)
        XCTAssertTrue(check.stderr.contains("GATEWAY_IDLE_TIMEOUT_SECONDS: must be more than 0 seconds"), check.stderr)
        XCTAssertTrue(check.stderr.contains("GATEWAY_MAX_CONNECTIONS: must be a number from 1 to 1000000"), check.stderr)
    }
}
