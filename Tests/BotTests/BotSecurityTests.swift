import Foundation
import XCTest
import TestSupport
@testable import Bot

/// Who gets what, and what hostile input cannot make the bot do, with real processes: an
/// answer from a compromised gateway, look-alike emails, other bots, a user flooding the bot.
final class BotSecurityTests: BotProcessTestCase {
    /// A gateway that answers 200 with Markdown in place of the code (a compromised instance,
    /// or a man in the middle on plain HTTP): the user gets the ordinary "try again", nothing of
    /// the answer reaches Zulip or the log, and the refusal is counted.
    func testAGatewayAnswerThatIsNotACodeIsNeverPosted() throws {
        stack = try BotStack(gateway: false)
        let evil = "`1` @**all** [click](https://evil.example/x)"
        let fake = FakeGateway { label in
            let now = Int64(Date().timeIntervalSince1970)
            return #"{"label":"\#(label)","code":"\#(evil.replacingOccurrences(of: "\"", with: "\\\""))","period":30,"digits":6,"algorithm":"SHA1","remaining":10,"expires_at":\#(now + 10),"instance":"gw-evil"}"#
        }
        let port = try fake.start()
        defer { fake.stop() }
        let bot = try stack.startBot(["GATEWAY_URLS": "http://127.0.0.1:\(port)"])
        let z = stack.zulip
        let m = z.dm(from: BotStack.alice, "code certus")
        let replies = z.waitForReplies(to: BotStack.alice, after: m)
        XCTAssertEqual(replies.map(\.content), [ReplyFormatter.unavailable])
        XCTAssertGreaterThanOrEqual(fake.requests, 1, "the fake gateway was asked")
        for message in z.messages() {
            XCTAssertFalse(message.content.contains("evil.example") || message.content.contains("@**all**"), message.content)
        }
        let line = try XCTUnwrap(waitForLine(bot, "gateway_answer_invalid"))
        XCTAssertTrue((line["problem"] as? String ?? "").contains("code is not exactly 6 ASCII digits"), "\(line)")
        XCTAssertFalse(bot.stderr.contains("evil.example") || bot.stderr.contains("@**all**"), "the answer's text reached the log")
        let metricsPort = try XCTUnwrap(BotStack.metricsPort(bot))
        let metrics = try XCTUnwrap(fetch("http://127.0.0.1:\(metricsPort)/metrics"))
        XCTAssertTrue(metrics.contains(#"bot_gateway_invalid_answers_total{instance="http://127.0.0.1:\#(port)"} 1"#), metrics)
    }

    /// The ACL names kate@example.com. A user whose address starts with U+212A KELVIN SIGN
    /// (which Swift's lowercased() folds into "k") gets nothing; Kate herself gets her code.
    /// Access follows the address: when Kate moves to another one she loses it, and the entry
    /// comes back only for whoever holds kate@example.com.
    func testALookAlikeEmailGetsNoCodeAndAccessFollowsTheAddress() throws {
        stack = try BotStack()
        let z = stack.zulip
        let kelvin = "\u{212A}ate@example.com"
        let kelvinID = z.addUser(kelvin, name: "Kelvin")
        let bot = try stack.startBot(["BOT_ACL": "kate@example.com:*"])
        // Said at start: the entry matches nobody yet.
        XCTAssertNotNil(waitForLine(bot, "acl_email_unresolved") { $0["email"] as? String == "kate@example.com" })

        var m = z.dm(from: kelvin, "code certus")
        var text = try XCTUnwrap(reply(kelvin, after: m))
        XCTAssertNil(BotStack.code(in: text), "a look-alike of an ACL email got a code: \(text)")
        XCTAssertTrue(text.hasPrefix("No code for `certus`"), text)

        // Kate joins: the realm_user event resolves the entry to her id, and only to hers.
        let kateID = z.addUser("kate@example.com", name: "Kate")
        XCTAssertNotEqual(kateID, kelvinID)
        XCTAssertNotNil(waitForLine(bot, "acl_email_resolved") { $0["user_id"] as? Int == kateID })
        m = z.dm(from: "kate@example.com", "code certus")
        XCTAssertNotNil(BotStack.code(in: try XCTUnwrap(reply("kate@example.com", after: m))))
        m = z.dm(from: kelvin, "code certus")
        text = try XCTUnwrap(reply(kelvin, after: m))
        XCTAssertNil(BotStack.code(in: text), text)

        // Kate changes her address: the entry no longer names her.
        z.control("POST", "/update-user", ["user": kateID, "email": "kate.moved@example.com"])
        XCTAssertTrue(TestProcess.waitUntil(timeout: 10) { BotStack.lines(bot, "acl_email_unresolved").count == 2 })
        m = z.dm(from: "kate.moved@example.com", "code certus")
        text = try XCTUnwrap(reply("kate.moved@example.com", after: m))
        XCTAssertNil(BotStack.code(in: text), "the ACL names an address Kate no longer has: \(text)")

        let port = try XCTUnwrap(BotStack.metricsPort(bot))
        XCTAssertTrue(try XCTUnwrap(fetch("http://127.0.0.1:\(port)/metrics")).contains("bot_acl_unresolved_emails 1"))
    }

    /// A bot account that echoes every message it gets: the bot never answers another bot, so
    /// no loop starts (before, 185 replies in 20 s without end). The echo bot's DM is settled.
    func testAnotherBotIsNeverAnsweredSoAnEchoBotCannotStartALoop() throws {
        stack = try BotStack()
        let z = stack.zulip
        let echo = "echo-bot@example.com"
        z.control("POST", "/users", ["email": echo, "full_name": "Echo Bot", "is_bot": true])
        // Even with the echo bot in the ACL.
        let bot = try stack.startBot(["BOT_ACL": "\(echo):*;\(BotStack.alice):*"])
        let port = try XCTUnwrap(BotStack.metricsPort(bot))
        let first = z.dm(from: echo, "code certus")
        // Play the echo bot: send back each message the bot sends it, at most 20 times within 10 s,
        // until the bot has settled the first DM as a bot's and answered a human after it.
        var echoed = Set<Int>()
        var marker: Int? = nil
        let deadline = Date() + 10
        while Date() < deadline && echoed.count < 20 {
            for reply in z.botReplies(to: echo, after: first) where !echoed.contains(reply.id) {
                echoed.insert(reply.id)
                z.dm(from: echo, reply.content)
            }
            if marker == nil, fetch("http://127.0.0.1:\(port)/metrics")?.contains(#"bot_dms_total{outcome="ignored_bot"} 1"#) == true {
                marker = z.dm(from: BotStack.alice, "help")
            }
            if let marker, !z.botReplies(to: BotStack.alice, after: marker).isEmpty { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertEqual(z.botReplies(to: echo, after: first).count, 0, "the bot answered a bot: \(echoed.count) echoes")
        XCTAssertNotNil(marker, "the echo bot's DM was not counted as ignored_bot")
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { (self.stack.watermark ?? 0) >= first }, "the bot's DM is settled")
        XCTAssertTrue(BotStack.auditLines(bot).allSatisfy { $0["message_id"] as? Int != first }, "a bot's DM is not a request")
    }

    /// 50 DMs from one user far beyond the limit (burst 2, one a minute): two codes, one
    /// "too many requests", and the other 47 settled silently (before: 48 notices), each DM
    /// settled exactly once, also for the next leader.
    func testAFloodOfDMsGetsOneRateLimitNoticePerWindow() throws {
        stack = try BotStack()
        let z = stack.zulip
        let bot = try stack.startBot(["BOT_USER_RATE_BURST": "2", "BOT_USER_RATE_PER_MINUTE": "1"])
        let ids = (0..<50).map { _ in z.dm(from: BotStack.alice, "code certus") }
        XCTAssertTrue(TestProcess.waitUntil(timeout: 20) { BotStack.auditLines(bot).count >= 50 }, "\(BotStack.auditLines(bot).count) audit lines")
        let outcomes = Dictionary(grouping: BotStack.auditLines(bot), by: { $0["outcome"] as? String ?? "" }).mapValues(\.count)
        XCTAssertEqual(outcomes, ["code": 2, "rate_limited": 1, "rate_limited_silent": 47])
        XCTAssertEqual(Set(BotStack.auditLines(bot).compactMap { $0["message_id"] as? Int }), Set(ids), "one audit line per DM")
        let replies = z.botReplies(to: BotStack.alice, after: ids[0] - 1)
        XCTAssertEqual(replies.count, 3, "\(replies.map(\.content))")
        XCTAssertEqual(replies.filter { $0.content.hasPrefix("Too many requests.") }.count, 1)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { (self.stack.watermark ?? 0) >= ids.last! }, "every DM settled")
        let port = try XCTUnwrap(BotStack.metricsPort(bot))
        XCTAssertTrue(try XCTUnwrap(fetch("http://127.0.0.1:\(port)/metrics")).contains(#"bot_dms_total{outcome="rate_limited_silent"} 47"#))

        // The next leader answers none of them again.
        bot.signal(SIGKILL)
        bot.waitForExit(timeout: 5)
        let next = try stack.startBot()
        XCTAssertEqual(waitForLine(next, "catch_up")?["to_answer"] as? Int, 0)
        let b = z.dm(from: BotStack.bob, "help")
        XCTAssertEqual(z.waitForReplies(to: BotStack.bob, after: b).count, 1)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: ids[0] - 1).count, 3)
    }
}
