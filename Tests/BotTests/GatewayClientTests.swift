import Foundation
import Synchronization
import XCTest
import TestSupport
@testable import Bot
@testable import CurlHTTP
import Platform
import TOTP
@testable import Platform
@testable import CurlHTTP

final class GatewayClientTests: XCTestCase {
    private let token = "tok-SECRET-1234"

    /// The unix time the fixtures' answers were given at: `expires_at` 1764064800 less `remaining` 12.
    private static let fixtureTime: Int64 = 1_764_064_788

    private static func codeJSON(label: String = "db/prod", instance: String, next: Bool = false) -> ScriptedResponse {
        let nextPart = next ? #","next_code":"654321","next_expires_at":1764064830"# : ""
        return .json(200, #"{"label":"\#(label)","code":"123456","period":30,"digits":6,"algorithm":"SHA1","remaining":12,"expires_at":1764064800,"instance":"\#(instance)"\#(nextPart)}"#)
    }

    /// A clock that runs in real time but can be pushed forward.
    private final class TestClock: Sendable {
        private let offset = Mutex<Duration>(.zero)
        func advance(_ d: Duration) { offset.withLock { $0 += d } }
        var now: @Sendable () -> ContinuousClock.Instant {
            { [self] in ContinuousClock.now + offset.withLock { $0 } }
        }
    }

    private func makeClient(
        _ urls: [String], perAttempt: Duration = .milliseconds(800), deadline: Duration = .seconds(3),
        cooldown: Duration = .seconds(5), clock: TestClock = TestClock(), sink: LogSink? = nil
    ) -> GatewayClient {
        let config = GatewayClientConfiguration(
            baseURLs: urls, token: token, perAttemptTimeout: perAttempt, overallDeadline: deadline, cooldown: cooldown)
        return GatewayClient(
            configuration: config, http: HTTPClient(options: HTTPClientOptions(userAgent: "totp-tests")),
            now: clock.now, wallClock: { Self.fixtureTime }, logger: sink.map { Logger(component: "bot", minimumLevel: .debug, sink: $0) })
    }

    func testRequestShapeAndDecodedCode() throws {
        let server = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-a", next: true))
        defer { server.stop() }
        let outcome = makeClient([server.baseURL + "/"]).fetchCode(label: "db/prod", next: true, requestID: "req-7")
        XCTAssertEqual(outcome, .code(GatewayCode(
            label: "db/prod", code: "123456", period: 30, digits: 6, algorithm: "SHA1", remaining: 12,
            expiresAt: 1_764_064_800, instance: "gw-a", nextCode: "654321", nextExpiresAt: 1_764_064_830)))
        let request = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.path, "/code?label=db%2Fprod&next=1")
        XCTAssertEqual(request.header("authorization"), "Bearer \(token)")
        XCTAssertEqual(request.header("x-request-id"), "req-7")
        if case .code(let c) = outcome { XCTAssertFalse("\(c)".contains("123456")) }
    }

    /// `GET /labels` (issue 14), with the same failover: a 5xx moves on, a 4xx is the answer.
    func testLabelsAreFetchedWithFailover() throws {
        let list = #"{"labels":[{"label":"certus","algorithm":"SHA1","digits":6,"period":30},{"label":"gh","algorithm":"SHA256","digits":8,"period":60}],"instance":"gw-b"}"#
        let a = try ScriptedHTTPServer(fallback: .json(503, #"{"error":"unavailable","message":"x"}"#))
        let b = try ScriptedHTTPServer(fallback: .json(200, list))
        defer { a.stop(); b.stop() }
        let outcome = makeClient([a.baseURL, b.baseURL]).fetchLabels(requestID: "req-9")
        XCTAssertEqual(outcome, .labels([GatewayLabel(label: "certus", algorithm: "SHA1", digits: 6, period: 30),
                                         GatewayLabel(label: "gh", algorithm: "SHA256", digits: 8, period: 60)]))
        XCTAssertEqual(b.requests.first?.path, "/labels")
        XCTAssertEqual(b.requests.first?.header("authorization"), "Bearer \(token)")
        let refusing = try ScriptedHTTPServer(fallback: .json(403, #"{"error":"forbidden","message":"x"}"#))
        defer { refusing.stop() }
        XCTAssertEqual(makeClient([refusing.baseURL]).fetchLabels(requestID: "r"), .refused(status: 403, error: "forbidden"))
        let junk = try ScriptedHTTPServer(fallback: .json(200, #"{"codes":[]}"#))
        defer { junk.stop() }
        guard case .unavailable(let reason) = makeClient([junk.baseURL]).fetchLabels(requestID: "r") else { return XCTFail("not unavailable") }
        XCTAssertTrue(reason.contains("not a label list"), reason)
    }

    func testFirstInstanceDownSecondAnswers() throws {
        let refusing = try ReservedPort()
        defer { refusing.close() }
        let down = "http://127.0.0.1:\(refusing.port)"
        let b = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-b"))
        defer { b.stop() }
        let sink = LogSink.memory()
        let client = makeClient([down, b.baseURL], sink: sink)
        guard case .code(let code) = client.fetchCode(label: "db/prod", next: false, requestID: "r1") else {
            return XCTFail("expected a code")
        }
        XCTAssertEqual(code.instance, "gw-b")
        XCTAssertNil(code.nextCode)
        XCTAssertEqual(client.failoverCount, 1)
        XCTAssertEqual(client.instanceStats(), [
            GatewayInstanceStats(url: down, attempts: 1, successes: 0, failures: 1, failoversAway: 1, circuitOpen: true),
            GatewayInstanceStats(url: b.baseURL, attempts: 1, successes: 1, failures: 0, failoversAway: 0, circuitOpen: false),
        ])
        XCTAssertTrue(sink.captured.contains { $0.contains("gateway_attempt_failed") && $0.contains("connect") })
        XCTAssertFalse(sink.captured.contains { $0.contains(token) || $0.contains("123456") })
    }

    func testServerErrorsFailOver() throws {
        for status in [500, 502, 503, 504] {
            let a = try ScriptedHTTPServer(fallback: .json(status, #"{"error":"unavailable","message":"x"}"#))
            let b = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-b"))
            defer { a.stop(); b.stop() }
            let client = makeClient([a.baseURL, b.baseURL])
            guard case .code(let code) = client.fetchCode(label: "db/prod", next: false, requestID: "r") else {
                return XCTFail("status \(status): expected failover to a code")
            }
            XCTAssertEqual(code.instance, "gw-b")
            XCTAssertEqual(a.requests.count, 1)
            XCTAssertEqual(client.failoverCount, 1)
        }
    }

    func testEmptyReplyAndTimeoutFailOver() throws {
        let empty = try ScriptedHTTPServer(fallback: .emptyReply)
        let slow = try ScriptedHTTPServer(fallback: .delayed(.seconds(5)))
        let good = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-c"))
        defer { empty.stop(); slow.stop(); good.stop() }
        let client = makeClient([empty.baseURL, slow.baseURL, good.baseURL], perAttempt: .milliseconds(300))
        let started = ContinuousClock.now
        guard case .code(let code) = client.fetchCode(label: "db/prod", next: false, requestID: "r") else {
            return XCTFail("expected a code")
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(2))
        XCTAssertEqual(code.instance, "gw-c")
        XCTAssertEqual(client.failoverCount, 2)
    }

    func testInvalidBodyFailsOver() throws {
        let a = try ScriptedHTTPServer(fallback: .json(200, "not json"))
        let wrongLabel = try ScriptedHTTPServer(fallback: Self.codeJSON(label: "other", instance: "gw-x"))
        let b = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-b"))
        defer { a.stop(); wrongLabel.stop(); b.stop() }
        let outcome = makeClient([a.baseURL, wrongLabel.baseURL, b.baseURL]).fetchCode(label: "db/prod", next: false, requestID: "r")
        guard case .code(let code) = outcome else { return XCTFail("expected a code") }
        XCTAssertEqual(code.instance, "gw-b")
    }

    /// A 200 whose code could carry Markdown, or whose label or times are off, is never
    /// returned: the next instance is asked, the instance is counted as invalid, and the log
    /// names the field but never the value.
    func testUnsoundAnswersFailOverAndAreCountedWithoutTheirText() throws {
        let evil = "`1` @**all** [click](https://evil.example/x)"
        let bodies = [
            #"{"label":"db/prod","code":"\#(evil)","period":30,"digits":6,"algorithm":"SHA1","remaining":12,"expires_at":1764064800,"instance":"gw-x"}"#,
            #"{"label":"db/prod","code":"12345","period":30,"digits":6,"algorithm":"SHA1","remaining":12,"expires_at":1764064800,"instance":"gw-x"}"#,
            #"{"label":"db/prod","code":"１２３４５６","period":30,"digits":6,"algorithm":"SHA1","remaining":12,"expires_at":1764064800,"instance":"gw-x"}"#,
            #"{"label":"db/prod","code":"123456","period":30,"digits":9,"algorithm":"SHA1","remaining":12,"expires_at":1764064800,"instance":"gw-x"}"#,
            #"{"label":"db/prod","code":"123456","period":30,"digits":6,"algorithm":"SHA1","remaining":31,"expires_at":1764064800,"instance":"gw-x"}"#,
            #"{"label":"db/prod","code":"123456","period":30,"digits":6,"algorithm":"SHA1","remaining":12,"expires_at":1764064740,"instance":"gw-x"}"#,
            #"{"label":"db/prod","code":"123456","period":30,"digits":6,"algorithm":"SHA1","remaining":12,"expires_at":1764064800,"instance":"gw-x","next_code":"1 @**all**","next_expires_at":1764064830}"#,
            #"{"label":"db/prod","code":"123456","period":30,"digits":6,"algorithm":"SHA1","remaining":12,"expires_at":1764064800,"instance":"gw-x","next_code":"654321","next_expires_at":1764099999}"#,
        ]
        for body in bodies {
            let bad = try ScriptedHTTPServer(fallback: .json(200, body))
            let good = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-b"))
            defer { bad.stop(); good.stop() }
            let sink = LogSink.memory()
            let client = makeClient([bad.baseURL, good.baseURL], sink: sink)
            guard case .code(let code) = client.fetchCode(label: "db/prod", next: false, requestID: "r") else {
                return XCTFail("expected the second instance's code for \(body)")
            }
            XCTAssertEqual(code.instance, "gw-b", body)
            XCTAssertEqual(client.instanceStats()[0].invalidAnswers, 1, body)
            XCTAssertEqual(client.instanceStats()[0].failures, 1, body)
            XCTAssertEqual(client.instanceStats()[1].invalidAnswers, 0, body)
            let log = sink.captured.joined(separator: "\n")
            XCTAssertTrue(log.contains("gateway_answer_invalid"), log)
            XCTAssertFalse(log.contains("evil.example") || log.contains("@**all**") || log.contains("12345\""), log)
        }

        // Only unsound answers everywhere: unavailable, which the bot turns into "try again".
        let bad = try ScriptedHTTPServer(fallback: .json(200, bodies[0]))
        defer { bad.stop() }
        guard case .unavailable(let reason) = makeClient([bad.baseURL]).fetchCode(label: "db/prod", next: false, requestID: "r") else {
            return XCTFail("an unsound answer was returned")
        }
        XCTAssertTrue(reason.contains("code is not exactly 6 ASCII digits"), reason)
        XCTAssertFalse(reason.contains("evil"), reason)
    }

    func testSoundAnswersPassTheCheckAtTheirEdges() {
        let code = GatewayCode(label: "x", code: "01234567", period: 60, digits: 8, algorithm: "SHA256", remaining: 60,
                               expiresAt: 1_000_060, instance: "gw", nextCode: "76543210", nextExpiresAt: 1_000_120)
        XCTAssertNil(code.problem(askedLabel: "x", now: 1_000_000))
        // A clock difference up to one period is tolerated, more is not.
        XCTAssertNil(code.problem(askedLabel: "x", now: 1_000_060))
        XCTAssertNotNil(code.problem(askedLabel: "x", now: 1_000_061))
        XCTAssertNotNil(code.problem(askedLabel: "y", now: 1_000_000))
        var combining = code
        combining.code = "0123456\u{0301}"
        XCTAssertNotNil(combining.problem(askedLabel: "x", now: 1_000_000), "a combining mark is not a digit")
    }

    func testClientErrorsAreAnswersAndNeverRetried() throws {
        for (status, error) in [(400, "bad_request"), (401, "unauthorized"), (403, "forbidden"), (404, "unknown_label"), (429, "rate_limited")] {
            let a = try ScriptedHTTPServer(fallback: .json(status, #"{"error":"\#(error)","message":"no"}"#))
            let b = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-b"))
            defer { a.stop(); b.stop() }
            let client = makeClient([a.baseURL, b.baseURL])
            XCTAssertEqual(client.fetchCode(label: "db/prod", next: false, requestID: "r"), .refused(status: status, error: error))
            XCTAssertEqual(a.requests.count, 1)
            XCTAssertEqual(b.requests.count, 0, "a \(status) must not be retried elsewhere")
            XCTAssertEqual(client.failoverCount, 0)
            XCTAssertEqual(client.instanceStats()[0].circuitOpen, false)
        }
    }

    func testRefusalWithoutJSONBodyNamesStatus() throws {
        let a = try ScriptedHTTPServer(fallback: .text(403, "Forbidden"))
        defer { a.stop() }
        XCTAssertEqual(makeClient([a.baseURL]).fetchCode(label: "x", next: false, requestID: "r"), .refused(status: 403, error: "http_403"))
    }

    func testAllDownIsUnavailableWithinDeadline() throws {
        let servers = try (0..<3).map { _ in try ScriptedHTTPServer(fallback: .delayed(.seconds(5))) }
        defer { servers.forEach { $0.stop() } }
        // 1.5 s: room for three whole 400 ms attempts plus a loaded machine's overhead, so the
        // third instance is always asked.
        let deadline: Duration = .milliseconds(1500)
        let client = makeClient(servers.map(\.baseURL), perAttempt: .milliseconds(400), deadline: deadline)
        let started = ContinuousClock.now
        let outcome = client.fetchCode(label: "db/prod", next: false, requestID: "r")
        let elapsed = ContinuousClock.now - started
        guard case .unavailable(let reason) = outcome else { return XCTFail("expected unavailable, got \(outcome)") }
        XCTAssertLessThan(elapsed, deadline + .milliseconds(500))
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(1150), "three attempts of 400 ms")
        XCTAssertTrue(reason.contains("timeout"), reason)
        XCTAssertFalse(reason.contains(token))
        XCTAssertEqual(servers.map { $0.requests.count }, [1, 1, 1])
    }

    func testAllRefusedIsUnavailableQuicklyAndNamesEachInstance() throws {
        let refusing = try (0..<2).map { _ in try ReservedPort() }
        defer { refusing.forEach { $0.close() } }
        let urls = refusing.map { "http://127.0.0.1:\($0.port)" }
        let client = makeClient(urls)
        guard case .unavailable(let reason) = client.fetchCode(label: "x", next: false, requestID: "r") else {
            return XCTFail("expected unavailable")
        }
        for url in urls { XCTAssertTrue(reason.contains(url), reason) }
        XCTAssertEqual(client.failoverCount, 1)
        XCTAssertEqual(client.instanceStats().map(\.circuitOpen), [true, true])
    }

    func testCircuitSkipsDuringCooldownAndReprobesAfter() throws {
        // a: first answer 503, later codes. b: always codes.
        let a = try ScriptedHTTPServer(script: [.json(503, #"{"error":"unavailable"}"#)], fallback: Self.codeJSON(instance: "gw-a"))
        let b = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-b"))
        defer { a.stop(); b.stop() }
        let clock = TestClock()
        let client = makeClient([a.baseURL, b.baseURL], cooldown: .seconds(5), clock: clock)

        // Round-robin starts at a, which fails: b answers, a's circuit opens.
        guard case .code(let first) = client.fetchCode(label: "db/prod", next: false, requestID: "1") else { return XCTFail() }
        XCTAssertEqual(first.instance, "gw-b")
        XCTAssertEqual(client.instanceStats()[0].circuitOpen, true)

        // During the cool-down a is skipped even when round-robin would start there.
        for i in 0..<4 {
            clock.advance(.seconds(1))
            guard case .code(let c) = client.fetchCode(label: "db/prod", next: false, requestID: "c\(i)") else { return XCTFail() }
            XCTAssertEqual(c.instance, "gw-b")
        }
        XCTAssertEqual(a.requests.count, 1)
        XCTAssertEqual(b.requests.count, 5)

        // Cool-down over: the next request probes a (half-open), which answers and closes it.
        clock.advance(.seconds(2))
        guard case .code(let probed) = client.fetchCode(label: "db/prod", next: false, requestID: "p") else { return XCTFail() }
        XCTAssertEqual(probed.instance, "gw-a")
        XCTAssertEqual(a.requests.count, 2)
        XCTAssertEqual(client.instanceStats()[0], GatewayInstanceStats(
            url: a.baseURL, attempts: 2, successes: 1, failures: 1, failoversAway: 1, circuitOpen: false))
        XCTAssertEqual(client.instanceStats()[1], GatewayInstanceStats(
            url: b.baseURL, attempts: 5, successes: 5, failures: 0, failoversAway: 0, circuitOpen: false))

        // Closed again: round-robin spreads requests over both.
        for i in 0..<4 { _ = client.fetchCode(label: "db/prod", next: false, requestID: "rr\(i)") }
        XCTAssertEqual(a.requests.count, 4)
        XCTAssertEqual(b.requests.count, 7)
    }

    func testFailedProbeReopensCircuit() throws {
        let a = try ScriptedHTTPServer(fallback: .json(503, "{}"))
        let b = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-b"))
        defer { a.stop(); b.stop() }
        let clock = TestClock()
        let client = makeClient([a.baseURL, b.baseURL], cooldown: .seconds(5), clock: clock)
        _ = client.fetchCode(label: "db/prod", next: false, requestID: "1")  // a fails, b answers
        clock.advance(.seconds(6))
        guard case .code(let c) = client.fetchCode(label: "db/prod", next: false, requestID: "2") else { return XCTFail() }
        XCTAssertEqual(c.instance, "gw-b")
        XCTAssertEqual(a.requests.count, 2, "the probe went to a")
        clock.advance(.seconds(1))
        _ = client.fetchCode(label: "db/prod", next: false, requestID: "3")
        XCTAssertEqual(a.requests.count, 2, "a is cooling down again after the failed probe")
        XCTAssertEqual(client.instanceStats()[0].failures, 2)
        XCTAssertEqual(client.failoverCount, 2)
    }

    func testAllCoolingDownAreStillTriedOldestFailureFirst() throws {
        let a = try ScriptedHTTPServer(script: [.json(503, "{}")], fallback: Self.codeJSON(instance: "gw-a"))
        let b = try ScriptedHTTPServer(script: [.json(503, "{}")], fallback: Self.codeJSON(instance: "gw-b"))
        defer { a.stop(); b.stop() }
        let clock = TestClock()
        let client = makeClient([a.baseURL, b.baseURL], cooldown: .seconds(60), clock: clock)
        guard case .unavailable = client.fetchCode(label: "db/prod", next: false, requestID: "1") else { return XCTFail() }
        XCTAssertEqual(client.instanceStats().map(\.circuitOpen), [true, true])
        clock.advance(.seconds(1))
        // Both cooling down: rather than give up, try a (failed first).
        guard case .code(let c) = client.fetchCode(label: "db/prod", next: false, requestID: "2") else { return XCTFail() }
        XCTAssertEqual(c.instance, "gw-a")
        XCTAssertEqual(b.requests.count, 1)
        XCTAssertEqual(client.instanceStats().map(\.circuitOpen), [false, true])
    }

    func testEveryCircuitOpenProbesOnceAtATimeAndFailsTheRestFast() throws {
        let servers = try (0..<2).map { _ in try ScriptedHTTPServer(fallback: .delayed(.seconds(5))) }
        defer { servers.forEach { $0.stop() } }
        let client = makeClient(servers.map(\.baseURL), perAttempt: .milliseconds(400), deadline: .seconds(2), cooldown: .seconds(60))
        guard case .unavailable = client.fetchCode(label: "db/prod", next: false, requestID: "1") else { return XCTFail() }
        XCTAssertEqual(servers.map { $0.requests.count }, [1, 1])
        XCTAssertEqual(client.instanceStats().map(\.circuitOpen), [true, true])

        // All cooling down: one fetch probes the oldest failure (one attempt, not every instance).
        let probeOutcome = Mutex<GatewayOutcome?>(nil)
        let probeDone = DispatchSemaphore(value: 0)
        Thread {
            let outcome = client.fetchCode(label: "db/prod", next: false, requestID: "probe")
            probeOutcome.withLock { $0 = outcome }
            probeDone.signal()
        }.start()
        let waitStart = ContinuousClock.now
        while servers[0].requests.count < 2 && ContinuousClock.now - waitStart < .seconds(5) { usleep(5_000) }
        XCTAssertEqual(servers[0].requests.count, 2, "the probe went to the instance that failed first")
        // While that probe is in flight, another fetch gives up at once without a request.
        let started = ContinuousClock.now
        guard case .unavailable(let reason) = client.fetchCode(label: "db/prod", next: false, requestID: "fast") else { return XCTFail() }
        // An attempt would take 400 ms; 300 leaves room for a preempted thread.
        XCTAssertLessThan(ContinuousClock.now - started, .milliseconds(300))
        XCTAssertTrue(reason.contains("one is being retried"), reason)
        XCTAssertEqual(probeDone.wait(timeout: .now() + 5), .success)
        guard case .unavailable? = probeOutcome.withLock({ $0 }) else { return XCTFail("the probe should time out") }
        let elapsed = ContinuousClock.now - started
        XCTAssertLessThan(elapsed, .milliseconds(900), "the probe tried one instance only")
        XCTAssertEqual(servers.map { $0.requests.count }, [2, 1])
    }

    func testConcurrentFetchesAllSucceed() throws {
        let a = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-a"))
        let b = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-b"))
        defer { a.stop(); b.stop() }
        let client = makeClient([a.baseURL, b.baseURL])
        let codes = Mutex(0)
        let group = DispatchGroup()
        for t in 0..<4 {
            group.enter()
            Thread {
                for i in 0..<5 {
                    if case .code = client.fetchCode(label: "db/prod", next: false, requestID: "\(t)-\(i)") {
                        codes.withLock { $0 += 1 }
                    }
                }
                group.leave()
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(codes.withLock { $0 }, 20)
        XCTAssertEqual(a.requests.count + b.requests.count, 20)
        XCTAssertEqual(a.requests.count, 10, "round-robin alternates the start instance")
    }

    func testRequestIDCannotInjectHeaders() throws {
        let server = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-a"))
        defer { server.stop() }
        let outcome = makeClient([server.baseURL]).fetchCode(label: "db/prod", next: false, requestID: "abc\r\nX-Evil: 1")
        guard case .code = outcome else { return XCTFail("expected a code, got \(outcome)") }
        XCTAssertEqual(server.requests.first?.header("x-request-id"), "abcX-Evil:1")
        XCTAssertNil(server.requests.first?.header("x-evil"))
    }

    func testBadTokenIsUnavailableWithoutOpeningCircuits() throws {
        let a = try ScriptedHTTPServer(fallback: Self.codeJSON(instance: "gw-a"))
        defer { a.stop() }
        let config = GatewayClientConfiguration(baseURLs: [a.baseURL, "ftp://127.0.0.1:1"], token: "bad\ntoken")
        let client = GatewayClient(configuration: config, http: HTTPClient(options: HTTPClientOptions(userAgent: "t")))
        guard case .unavailable(let reason) = client.fetchCode(label: "x", next: false, requestID: "r") else { return XCTFail() }
        XCTAssertTrue(reason.contains("configuration"), reason)
        XCTAssertFalse(reason.contains("token\n") || reason.contains("bad\ntoken"))
        XCTAssertEqual(a.requests.count, 0)
        XCTAssertEqual(client.instanceStats().map(\.circuitOpen), [false, false])
    }
}
