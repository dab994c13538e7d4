import Foundation
import Shared
import XCTest
import TestSupport
@testable import Bot

/// The leader's lock and state file under abuse, with real processes and real files: a state
/// file with an impossible watermark, a lock file deleted or replaced under a leader, two lock
/// paths over one state directory, a full state file system.
final class BotStateTests: BotProcessTestCase {
    /// A watermark of Int.max (a damaged or edited state file) would make every catch-up start
    /// after every message: the DM sent while no bot ran would never be answered. It is refused
    /// against register's max_message_id and catch-up starts from the BOT_CATCHUP_MAX_AGE window,
    /// where the DM answered before is recognised as answered.
    func testAWatermarkBeyondTheNewestMessageIsRefusedAndDMsAreAnswered() throws {
        stack = try BotStack()
        let z = stack.zulip
        let first = try stack.startBot()
        let m0 = z.dm(from: BotStack.alice, "code certus")
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: m0).count, 1)
        first.signal(SIGKILL)
        first.waitForExit(timeout: 5)
        let now = Int(Date().timeIntervalSince1970)
        try stack.writeState(#"{"last_message_id":\#(Int.max),"updated_at":\#(now),"replies":{},"sending":[]}"#)
        let gap = z.dm(from: BotStack.alice, "code github")

        let bot = try stack.startBot()
        let replies = z.waitForReplies(to: BotStack.alice, after: gap)
        XCTAssertEqual(replies.count, 1, "the DM sent while no bot ran is answered")
        XCTAssertNotNil(BotStack.code(in: replies.first?.content ?? ""))
        let refused = try XCTUnwrap(waitForLine(bot, "watermark_beyond_newest"))
        XCTAssertEqual(refused["saved"] as? Int, Int.max)
        XCTAssertEqual(refused["replaced_by"] as? Int, m0 - 1, "the window starts before the oldest young DM: \(refused)")
        let catchUp = try XCTUnwrap(waitForLine(bot, "catch_up"))
        XCTAssertEqual(catchUp["to_answer"] as? Int, 1, "\(catchUp)")
        XCTAssertEqual(catchUp["already_answered"] as? Int, 1, "m0 was answered before: \(catchUp)")
        let m2 = z.dm(from: BotStack.alice, "code certus")
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: m2).count, 1)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { (self.stack.watermark ?? Int.max) >= m2 && (self.stack.watermark ?? Int.max) < Int.max })
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m0).count, 3, "m0, the gap DM and m2 answered once each")
        let port = try XCTUnwrap(BotStack.metricsPort(bot))
        XCTAssertTrue(try XCTUnwrap(fetch("http://127.0.0.1:\(port)/metrics")).contains("bot_state_watermark_rejected_total 1"))
    }
}
