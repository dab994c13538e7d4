import Foundation
import XCTest
import Synchronization
import TestSupport
import Platform
@testable import CurlHTTP
@testable import Bot

/// Zulip's Retry-After holds every call of the bot, not only the one that drew the 429: the
/// real-Zulip rate-limit test once saw a worker give up on one reply (Retry-After 9.6 s, past
/// its deadline) and POST the next DM's reply on the same connection 49 ms later.
final class ZulipRateGateTests: XCTestCase {
    private static let limited = #"{"result":"error","msg":"API usage exceeded rate limit","code":"RATE_LIMIT_HIT","retry-after":"#

    private func rateLimited(_ seconds: String) -> ScriptedResponse {
        var r = ScriptedResponse.json(429, Self.limited + seconds + "}")
        r.headers.append(("Retry-After", seconds))
        return r
    }

    private func client(_ server: ScriptedHTTPServer) -> ZulipClient {
        ZulipClient(apiBase: server.baseURL + "/api/v1", email: "bot@example.com", apiKey: "key",
                    http: HTTPClient(options: HTTPClientOptions(userAgent: "tests")))
    }

    func testTheGateHoldsEachLimitApartAndNeverMovesItsEndBack() {
        let t0 = ContinuousClock.now
        var gate = ZulipRateGate()
        XCTAssertNil(gate.timeLeft(.api, now: t0))
        gate.refused(.api, retryAfter: 9.6, now: t0)
        XCTAssertEqual(gate.timeLeft(.api, now: t0 + .seconds(1)), .milliseconds(8600))
        XCTAssertNil(gate.timeLeft(.events, now: t0), "the long poll is limited apart")
        gate.refused(.api, retryAfter: 0.5, now: t0 + .seconds(1))
        XCTAssertEqual(gate.timeLeft(.api, now: t0 + .seconds(1)), .milliseconds(8600), "a shorter, later answer does not shorten the block")
        XCTAssertNil(gate.timeLeft(.api, now: t0 + .milliseconds(9600)), "open once Retry-After has passed")
        gate.refused(.events, retryAfter: 1e9, now: t0)
        XCTAssertEqual(gate.timeLeft(.events, now: t0), ZulipRateGate.longest, "no answer blocks for longer than 300 s")
        XCTAssertEqual(ZulipRateGate.Limit(path: "/events"), .events)
        XCTAssertEqual(ZulipRateGate.Limit(path: "/messages"), .api)
    }

    func testAnUnusableRetryAfterIsNeverTakenAsAWait() {
        func retryAfter(header: String?, body: String) -> Double? {
            let response = HTTPClientResponse(status: 429, headers: header.map { [("Retry-After", $0)] } ?? [],
                                              body: Array((Self.limited + body + "}").utf8))
            return ZulipClient.failure(for: response, method: "POST", path: "/messages")?.retryAfter
        }
        // Each of these would trap the bot where a caller turns seconds into a sleep.
        XCTAssertEqual(retryAfter(header: "nan", body: "2.5"), 2.5)
        XCTAssertEqual(retryAfter(header: "inf", body: "2.5"), 2.5)
        XCTAssertEqual(retryAfter(header: "-3", body: "-3"), 1)
        XCTAssertEqual(retryAfter(header: nil, body: "1e300"), 300)
        XCTAssertEqual(retryAfter(header: "7.25", body: "1"), 7.25)
    }

    func testACallIntoAKnownBlockIsNotSentFromAnyThread() throws {
        let server = try ScriptedHTTPServer { request in
            if request.path.hasPrefix("/api/v1/events") { return .json(200, #"{"result":"success","msg":"","events":[]}"#) }
            return .json(200, #"{"result":"success","msg":"","id":77}"#)
        }
        defer { server.stop() }
        let blocker = try ScriptedHTTPServer(script: [rateLimited("1.5")])
        defer { blocker.stop() }
        // One client whose first call is refused: the 429 comes from `blocker`, the rest
        // from `server`, through the same client, so the gate is the only link between them.
        let zulip = client(blocker)
        XCTAssertThrowsError(try zulip.sendDirect(to: [1], content: "a", featureLevel: 300)) { error in
            XCTAssertEqual((error as? ZulipError)?.status, 429)
        }
        XCTAssertEqual(blocker.requests.count, 1)

        // Another thread, so another curl handle and connection.
        let second = Mutex<ZulipError?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            do { _ = try zulip.sendDirect(to: [1], content: "b", featureLevel: 300) } catch { second.withLock { $0 = error as? ZulipError } }
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        let held = try XCTUnwrap(second.withLock { $0 }, "a call into the announced block must fail")
        XCTAssertEqual(held.code, .rateLimited)
        XCTAssertEqual(held.status, 0, "not sent, so no HTTP status")
        XCTAssertTrue(held.description.contains("not sent"), held.description)
        let left = try XCTUnwrap(held.retryAfter)
        XCTAssertGreaterThan(left, 0)
        XCTAssertLessThanOrEqual(left, 1.5)
        XCTAssertEqual(blocker.requests.count, 1, "nothing sent into the block")

        // The long poll is limited apart, so it goes on.
        let events = client(server)
        XCTAssertEqual(try events.events(queueID: "q", lastEventID: -1, timeout: .seconds(5)).count, 0)

        // Once the block is over, the same client sends again.
        Thread.sleep(forTimeInterval: left)
        XCTAssertThrowsError(try zulip.sendDirect(to: [1], content: "c", featureLevel: 300)) { error in
            XCTAssertEqual((error as? ZulipError)?.status, 200, "sent (the fallback answer is not a Zulip message)")
        }
        XCTAssertEqual(blocker.requests.count, 2)
    }

    /// The defect as CI saw it: a reply gives up because Retry-After ends past its deadline,
    /// and the next DM's reply must not be POSTed into the same block.
    func testAReplyGivenUpOnA429LeavesTheNextReplyUnsentUntilTheBlockEnds() throws {
        let server = try ScriptedHTTPServer(script: [rateLimited("9.6")],
                                            fallback: .json(200, #"{"result":"success","msg":"","id":9001}"#))
        defer { server.stop() }
        let dir = TemporaryDirectory(prefix: "rategate")
        let store = LeaderStateStore(directory: dir.path)
        try store.update { _ = $0.advance(to: 10) }
        let sink = LogSink.memory()
        let sender = ReplySender(zulip: client(server), store: store, deadline: .seconds(2),
                                 logger: Logger(component: "bot", sink: sink), credentialsRejected: { fatalError("no 401 here") })
        let session = DMHandler.Session(botID: 1, featureLevel: 300)

        XCTAssertEqual(sender.send(to: [42], "first", inReplyTo: 11, session: session), .failed(maybeDelivered: false))
        XCTAssertEqual(sender.send(to: [43], "second", inReplyTo: 12, session: session), .failed(maybeDelivered: false))
        XCTAssertEqual(server.requests.count, 1, "the second reply was not sent into the 9.6 s block")
        XCTAssertEqual(store.current.sending, [], "both left open for the next catch-up")
        XCTAssertEqual(sink.captured.filter { $0.contains("reply_gave_up") }.count, 2)
    }
}
