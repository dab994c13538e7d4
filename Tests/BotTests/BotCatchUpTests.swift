import Foundation
import XCTest
import TestSupport
@testable import Bot

/// Catch-up and the watermark, with real processes: which DMs a (new) leader answers after a
/// takeover, a lost queue, a SIGTERM or a failed reply, and that each is answered once.
final class BotCatchUpTests: BotProcessTestCase {
    /// The audit's case: alice 3031 (the watermark), alice 3032 sent before the reply to 3031
    /// went out, then that reply 3033. A restarted bot must answer 3032, whether the state file
    /// comes from the first version (watermark only) or records the replies.
    func testTheReplyToTheWatermarkDoesNotHideTheNextDM() throws {
        stack = try BotStack()
        let z = stack.zulip
        let alice = try XCTUnwrap(stack.ids[BotStack.alice])
        for legacy in [true, false] {
            let w = z.dm(from: BotStack.alice, "code certus")
            let next = z.dm(from: BotStack.alice, "code github")
            let replyToW = z.sendAsBot(toUserID: alice, "`000000` for certus — valid for 9 s more.")
            XCTAssertEqual([next, replyToW], [w + 1, w + 2])
            let now = Int(Date().timeIntervalSince1970)
            try stack.writeState(legacy
                ? #"{"last_message_id":\#(w),"updated_at":\#(now)}"#
                : #"{"last_message_id":\#(w),"updated_at":\#(now),"replies":{"\#(w)":\#(replyToW)},"sending":[]}"#)
            let bot = try stack.startBot()
            let line = try XCTUnwrap(waitForLine(bot, "catch_up"))
            XCTAssertEqual(line["to_answer"] as? Int, 1, "legacy \(legacy): \(line)")
            XCTAssertEqual(line["already_answered"] as? Int, 0, "legacy \(legacy): \(line)")
            let replies = z.waitForReplies(to: BotStack.alice, after: replyToW)
            XCTAssertEqual(replies.count, 1)
            XCTAssertNotNil(BotStack.code(in: replies.first?.content ?? ""), "\(replies.map(\.content))")
            XCTAssertNotNil(waitForLine(bot, "dm_received") { $0["message_id"] as? Int == next && $0["caught_up"] as? Bool == true })
            XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { (self.stack.watermark ?? 0) >= replies[0].id })
            bot.signal(SIGKILL)
            bot.waitForExit(timeout: 5)
        }
    }

    /// SIGTERM while caught-up DMs wait behind a slow one: the one in flight is finished, the
    /// one not started is left to the next leader, and the watermark does not pass it.
    func testSIGTERMDuringCatchUpLeavesUnansweredDMsToTheNextLeader() throws {
        stack = try BotStack()
        let z = stack.zulip
        let hang = try Blackhole()
        // 3 s: the SIGTERM below must land while m1's gateway call is still hanging.
        let slow = ["GATEWAY_URLS": "http://127.0.0.1:\(hang.port)", "BOT_GATEWAY_ATTEMPT_TIMEOUT_MS": "3000", "BOT_GATEWAY_DEADLINE_MS": "3000"]
        let first = try stack.startBot(slow)
        first.signal(SIGKILL)
        first.waitForExit(timeout: 5)
        let mark = try XCTUnwrap(stack.watermark)
        // Both from alice: answered in order, so the second waits behind the first's gateway call.
        let m1 = z.dm(from: BotStack.alice, "code certus")
        let m2 = z.dm(from: BotStack.alice, "code github")
        let bot = try stack.startBot(slow)
        XCTAssertEqual(waitForLine(bot, "catch_up")?["to_answer"] as? Int, 2)
        XCTAssertNotNil(waitForLine(bot, "dm_received") { $0["message_id"] as? Int == m1 })
        bot.signal(SIGTERM)
        XCTAssertEqual(bot.waitForExit(timeout: 15), 0)
        XCTAssertFalse(BotStack.lines(bot, "dm_received").contains { $0["message_id"] as? Int == m2 }, "m2 was never started")
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m2).count, 1, "m1 got its (try again) answer")
        let saved = try XCTUnwrap(stack.watermark)
        XCTAssertGreaterThanOrEqual(saved, mark)
        XCTAssertLessThan(saved, m2, "the watermark passed a DM nobody answered")

        // The next leader answers m2, once.
        let next = try stack.startBot()
        XCTAssertEqual(waitForLine(next, "catch_up")?["to_answer"] as? Int, 1)
        let replies = z.waitForReplies(to: BotStack.alice, after: m2, count: 2)
        XCTAssertEqual(replies.count, 2)
        XCTAssertNotNil(BotStack.code(in: replies[1].content), replies[1].content)
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m2).count, 2)
    }

    /// Zulip refuses the reply (502) for longer than BOT_REPLY_DEADLINE_MS: the DM is not
    /// dropped. The watermark stays below it, and a catch-up answers it once Zulip recovers.
    func testAReplyThatKeepsFailingIsRetriedByCatchUp() throws {
        stack = try BotStack()
        let z = stack.zulip
        let bot = try stack.startBot(["BOT_REPLY_DEADLINE_MS": "1200"])
        z.control("POST", "/fail", ["count": 1000, "status": 502, "method": "POST", "path": "/api/v1/messages"])
        let m = z.dm(from: BotStack.alice, "code certus")
        XCTAssertNotNil(waitForLine(bot, "reply_gave_up") { $0["in_reply_to"] as? Int == m })
        XCTAssertLessThan(stack.watermark ?? Int.max, m, "the watermark passed an unanswered DM")
        Thread.sleep(forTimeInterval: 1)
        XCTAssertTrue(z.botReplies(to: BotStack.alice, after: m).isEmpty)
        z.control("POST", "/fail", ["count": 0, "status": 502])
        let replies = z.waitForReplies(to: BotStack.alice, after: m, timeout: 15)
        XCTAssertEqual(replies.count, 1)
        XCTAssertNotNil(BotStack.code(in: replies.first?.content ?? ""))
        XCTAssertNotNil(waitForLine(bot, "catch_up") { $0["retry"] as? Bool == true })
        XCTAssertNotNil(waitForLine(bot, "dm_received") { $0["message_id"] as? Int == m && $0["caught_up"] as? Bool == true })
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { (self.stack.watermark ?? 0) >= m })
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m).count, 1, "answered exactly once")
    }

    /// The answer to POST /messages is lost although the message was sent: the bot's queue
    /// echoes its local_id, so the reply is not sent a second time.
    func testALostSendAnswerDoesNotDuplicateTheReply() throws {
        stack = try BotStack()
        let z = stack.zulip
        let bot = try stack.startBot()
        z.control("POST", "/drop-after-send", ["count": 1])
        let m = z.dm(from: BotStack.alice, "code certus")
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: m).count, 1)
        XCTAssertNotNil(waitForLine(bot, "reply_confirmed_by_echo") { $0["in_reply_to"] as? Int == m })
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m).count, 1, "sent once")
        let sends = z.requests("POST", "/api/v1/messages")
        let form = try XCTUnwrap(sends.last?["form"] as? [String: Any])
        XCTAssertEqual(form["local_id"] as? String, "reply-to-\(m)")
        XCTAssertNotNil(form["queue_id"] as? String)
        // The DM after it is answered normally.
        let n = z.dm(from: BotStack.alice, "help")
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: n).count, 1)
    }

    /// First start: a DM that arrives after the queue is registered is answered even while
    /// GET /messages fails (the watermark comes from register's max_message_id, not from
    /// asking for the newest DM afterwards, which would already be this one).
    func testFirstStartDoesNotSkipADMSentRightAfterRegistering() throws {
        stack = try BotStack()
        let z = stack.zulip
        _ = z.dm(from: BotStack.bob, "an old message")
        z.control("POST", "/fail", ["count": 1000, "status": 502, "method": "GET", "path": "/api/v1/messages"])
        let bot = try stack.startBot(expectLeader: false)
        XCTAssertNotNil(waitForLine(bot, "queue_registered"))
        let m = z.dm(from: BotStack.alice, "code certus")
        Thread.sleep(forTimeInterval: 0.3)
        z.control("POST", "/fail", ["count": 0, "status": 502])
        let replies = z.waitForReplies(to: BotStack.alice, after: m)
        XCTAssertEqual(replies.count, 1)
        XCTAssertEqual(waitForLine(bot, "watermark_initialised")?["last_message_id"] as? Int, m - 1)
        XCTAssertTrue(z.requests("GET", "/api/v1/messages").isEmpty, "no newest-DM query")
    }

    /// The queue expires while Zulip refuses to register a new one; a DM sent in that gap can
    /// only come back through the catch-up from the watermark.
    func testADMSentWhileNoQueueExistsIsCaughtUp() throws {
        stack = try BotStack()
        let z = stack.zulip
        let bot = try stack.startBot()
        z.control("POST", "/fail", ["count": 1000, "status": 503, "method": "POST", "path": "/api/v1/register"])
        z.control("POST", "/expire-queues", [:])
        XCTAssertNotNil(waitForLine(bot, "zulip_retry") { $0["call"] as? String == "register" })
        let m = z.dm(from: BotStack.alice, "code github")
        z.control("POST", "/fail", ["count": 0, "status": 503])
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: m).count, 1)
        let line = try XCTUnwrap(waitForLine(bot, "catch_up"))
        XCTAssertEqual(line["to_answer"] as? Int, 1, "\(line)")
        XCTAssertNotNil(waitForLine(bot, "dm_received") { $0["message_id"] as? Int == m && $0["caught_up"] as? Bool == true })
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m).count, 1, "answered exactly once")
    }
}
