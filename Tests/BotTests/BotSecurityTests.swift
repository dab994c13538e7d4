import Foundation
import Shared
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
}
