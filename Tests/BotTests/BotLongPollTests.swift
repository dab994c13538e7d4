import Foundation
import XCTest
import TestSupport
@testable import Bot

/// Issue 17: a long-poll whose answer never comes (a proxy, NAT or load balancer dropped the
/// connection without a reset, or the server lost the request). The test Zulip holds the answer
/// with the socket open; the bot must abandon the poll once it is late past the heartbeat pace
/// it has seen, poll again with the same `last_event_id`, and answer what came meanwhile once.
final class BotLongPollTests: BotProcessTestCase {
    /// The limit the leader reports in /healthz once it has seen a heartbeat (1 s here).
    private func learnedLimit(_ port: Int) -> Double? {
        var limit: Double? = nil
        _ = TestProcess.waitUntil(timeout: 10) {
            limit = health(port)?["event_poll_limit_seconds"] as? Double
            return (limit ?? 100) < 100
        }
        return limit
    }

    private func health(_ port: Int) -> [String: Any]? {
        guard let text = fetch("http://127.0.0.1:\(port)/healthz") else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    }

    /// Holds the answer of the bot's next poll; sends a DM once the poll before it has been
    /// answered (so the held one is on its way or held); returns when the bot's reply was sent
    /// and how long after the hung poll started, and after the DM.
    private func hang(dm user: String, _ text: String, limit: Double) throws -> (deafness: Double, latency: Double, dm: Int) {
        let z = stack.zulip
        // While a poll waits, the hold goes to the next one, which then starts as this one ends.
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) {
            (z.control("GET", "/queues")["queues"] as? [[String: Any]] ?? []).contains { $0["poller_connected"] as? Bool == true }
        }, "the bot is not polling")
        let mark = z.requests().compactMap { $0["seq"] as? Int }.max() ?? 0
        z.holdAnswer(method: "GET", path: "/api/v1/events")
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) {
            z.requests().contains { ($0["seq"] as? Int ?? 0) > mark && $0["path"] as? String == "/api/v1/events" }
        }, "the poll in progress was not answered")
        let sentAt = Date().timeIntervalSince1970
        let dm = z.dm(from: user, text)
        let replies = z.waitForReplies(to: user, after: dm, timeout: limit + 10)
        XCTAssertEqual(replies.count, 1, "the DM sent during the hang was not answered")
        var held: [String: Any]? = nil
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) {
            held = z.requests().first { ($0["seq"] as? Int ?? 0) > mark && $0["held"] as? Bool == true }
            return held != nil
        }, "the held poll was never closed by the bot")
        XCTAssertEqual(held?["path"] as? String, "/api/v1/events")
        XCTAssertEqual(held?["dropped"] as? Bool, true)
        let send = try XCTUnwrap(z.requests().last {
            $0["method"] as? String == "POST" && $0["path"] as? String == "/api/v1/messages" && $0["status"] as? Int == 200
        })
        let repliedAt = try XCTUnwrap(send["time"] as? Double)
        let hungAt = try XCTUnwrap(held?["time"] as? Double)
        return (repliedAt - hungAt, repliedAt - sentAt, dm)
    }

    func testAHungLongPollIsAbandonedAndWhatCameMeanwhileAnsweredOnceTwice() throws {
        stack = try BotStack()
        let bot = try stack.startBot()
        let z = stack.zulip
        let port = try XCTUnwrap(BotStack.metricsPort(bot))
        // 1 s heartbeats: max(1 s x 5/4, 1 s + 5 s) = 6 s, a little more with the answers' delay.
        let limit = try XCTUnwrap(learnedLimit(port), "no heartbeat seen: \(health(port) ?? [:])")
        XCTAssertGreaterThanOrEqual(limit, 6)
        XCTAssertLessThan(limit, 10)

        let first = try hang(dm: BotStack.alice, "code certus", limit: limit)
        print("hung long-poll 1 (heartbeat 1 s, limit \(limit) s): reply \(Int(first.deafness * 1000)) ms after the poll hung, \(Int(first.latency * 1000)) ms after the DM")
        XCTAssertLessThan(first.latency, limit + 2, "the DM must be answered within the limit")
        XCTAssertGreaterThanOrEqual(first.deafness, limit * 0.9, "answered before the poll was abandoned: no hang was tested")
        XCTAssertEqual(BotStack.lines(bot, "events_poll_abandoned").count, 1)

        // A second hang right after the recovery.
        let second = try hang(dm: BotStack.bob, "code github", limit: limit)
        print("hung long-poll 2: reply \(Int(second.deafness * 1000)) ms after the poll hung, \(Int(second.latency * 1000)) ms after the DM")
        XCTAssertLessThan(second.latency, limit + 2)
        let abandoned = BotStack.lines(bot, "events_poll_abandoned")
        XCTAssertEqual(abandoned.count, 2)
        for line in abandoned {
            XCTAssertNotNil(line["queue_id"] as? String)
            XCTAssertNotNil(line["last_event_id"] as? Int)
            XCTAssertGreaterThanOrEqual(line["waited_ms"] as? Int ?? 0, line["limit_ms"] as? Int ?? .max)
        }
        XCTAssertEqual(BotStack.lines(bot, "queue_registered").count, 1, "the same queue polled again, not a new one")

        // Nothing answered twice, nothing lost.
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: first.dm).count, 1)
        XCTAssertEqual(z.botReplies(to: BotStack.bob, after: second.dm).count, 1)
        XCTAssertEqual(BotStack.auditLines(bot).count, 2)
        let metrics = try XCTUnwrap(fetch("http://127.0.0.1:\(port)/metrics"))
        XCTAssertTrue(metrics.contains("bot_zulip_event_polls_abandoned_total 2"), metrics)
        XCTAssertTrue(metrics.contains("bot_zulip_event_poll_limit_seconds "), metrics)
        XCTAssertFalse(metrics.contains("bot_zulip_last_event_answer_timestamp_seconds 0\n"), metrics)
        let age = try XCTUnwrap(health(port)?["last_event_answer_age_seconds"] as? Double)
        XCTAssertLessThan(age, limit, "answers come again")
        for line in bot.logLines {
            XCTAssertFalse("\(line)".contains(ZulipEmulator.botKey), "the API key reached the log")
        }
    }

    /// While a poll hangs, the leader's /healthz shows the silence growing; a standby shows none.
    func testHealthShowsTheAgeOfTheLastEventAnswer() throws {
        stack = try BotStack()
        let bot = try stack.startBot()
        let standby = try stack.startBot(expectLeader: false)
        let port = try XCTUnwrap(BotStack.metricsPort(bot))
        let limit = try XCTUnwrap(learnedLimit(port))
        stack.zulip.holdAnswer(method: "GET", path: "/api/v1/events")
        var age = 0.0
        XCTAssertTrue(TestProcess.waitUntil(timeout: limit) {
            age = health(port)?["last_event_answer_age_seconds"] as? Double ?? 0
            return age >= 2
        }, "age stayed \(age)")
        XCTAssertNotNil(waitForLine(bot, "events_poll_abandoned", timeout: limit + 5))
        let standbyHealth = try XCTUnwrap(health(try XCTUnwrap(BotStack.metricsPort(standby))))
        XCTAssertEqual(standbyHealth["role"] as? String, "standby")
        XCTAssertNil(standbyHealth["last_event_answer_age_seconds"])
        XCTAssertNil(standbyHealth["event_poll_limit_seconds"])
    }
}
