import Foundation
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

    /// `rm` of the lock file while bot1 leads, then bot2 starts: bot2 creates a new file and
    /// locks it. bot1 sees that its path no longer names the file it locked, stops at once and
    /// exits 1 (its supervisor would restart it as a standby); 3 DMs get exactly 3 replies.
    func testDeletingTheLockFileUnderTheLeaderNeverMakesTwoLeaders() throws {
        stack = try BotStack()
        let z = stack.zulip
        let bot1 = try stack.startBot()
        try FileManager.default.removeItem(atPath: stack.dir + "/leader.lock")
        let bot2 = try stack.startBot()
        // At once: bot1 may not have looked at its lock yet, then its check before sending stops it.
        let users = [BotStack.alice, BotStack.bob, BotStack.carol]
        let ids = users.map { z.dm(from: $0, "help") }
        for (user, id) in zip(users, ids) { XCTAssertEqual(z.waitForReplies(to: user, after: id).count, 1, user) }
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(z.messages(after: ids[0] - 1).filter { $0.senderEmail == ZulipEmulator.botEmail }.count, 3, "3 DMs, 3 replies")
        XCTAssertEqual(bot1.waitForExit(timeout: 5), 1, "bot1 kept leading after its lock file was deleted")
        // Deleted, or already recreated by bot2 when bot1 looked.
        let reason = BotStack.lines(bot1, "leader_lock_lost").first?["reason"] as? String ?? ""
        XCTAssertTrue(reason.hasSuffix("leader.lock was deleted") || reason.hasSuffix("leader.lock was replaced by another file"), reason)
        XCTAssertTrue(bot2.process.isRunning)

        // Replacing the file (a rename over it) is caught the same way.
        try "{}".write(toFile: stack.dir + "/other.lock", atomically: false, encoding: .utf8)
        XCTAssertEqual(rename(stack.dir + "/other.lock", stack.dir + "/leader.lock"), 0)
        XCTAssertEqual(bot2.waitForExit(timeout: 5), 1)
        XCTAssertTrue((BotStack.lines(bot2, "leader_lock_lost").first?["reason"] as? String ?? "").contains("was replaced"))
    }

    /// Two bots given different BOT_LOCK_FILEs but one BOT_STATE_DIR: both also lock
    /// BOT_STATE_DIR/leader.lock, so the second waits as a standby; 3 DMs get 3 replies. When
    /// the first dies the second leads, with an epoch above the first's.
    func testTwoLockPathsOverOneStateDirectoryElectOneLeader() throws {
        stack = try BotStack()
        let z = stack.zulip
        let bot1 = try stack.startBot(["BOT_LOCK_FILE": stack.dir + "/a.lock"])
        let bot2 = try stack.startBot(["BOT_LOCK_FILE": stack.dir + "/b.lock"], expectLeader: false)
        XCTAssertEqual(waitForLine(bot2, "leader_lock_waiting")?["path"] as? String, stack.dir + "/leader.lock")
        let users = [BotStack.alice, BotStack.bob, BotStack.carol]
        let ids = users.map { z.dm(from: $0, "help") }
        for (user, id) in zip(users, ids) { XCTAssertEqual(z.waitForReplies(to: user, after: id).count, 1, user) }
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(z.messages(after: ids[0] - 1).filter { $0.senderEmail == ZulipEmulator.botEmail }.count, 3, "3 DMs, 3 replies")
        XCTAssertFalse(BotStack.events(bot2).contains("leader"), "two leaders over one state directory")
        let port2 = try XCTUnwrap(BotStack.metricsPort(bot2))
        XCTAssertTrue(try XCTUnwrap(fetch("http://127.0.0.1:\(port2)/healthz")).contains(#""role":"standby""#))

        bot1.signal(SIGKILL)
        bot1.waitForExit(timeout: 5)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { BotStack.events(bot2).contains("leader") })
        XCTAssertEqual(BotStack.lines(bot2, "leader").first?["epoch"] as? Int, 2)
        let m = z.dm(from: BotStack.alice, "help")
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: m).count, 1)
    }

    /// Every state write carries the leader's epoch. A newer leader's epoch in the file (one
    /// that took over while this one did not notice) makes this one's next write fail: it
    /// sends nothing, stops, and the next leader answers the DM once.
    func testALeaderWhoseEpochIsBehindTheStateFileStops() throws {
        stack = try BotStack()
        let z = stack.zulip
        let bot1 = try stack.startBot()
        let path = stack.dir + "/watermark.json"
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { FileManager.default.fileExists(atPath: path) })
        var json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        XCTAssertEqual(json["epoch"] as? Int, 1, "the state file records the leader's epoch")
        json["epoch"] = 9
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path), options: .atomic)
        let m = z.dm(from: BotStack.alice, "code certus")
        XCTAssertEqual(bot1.waitForExit(timeout: 10), 1, "a leader behind the state file's epoch kept going")
        XCTAssertTrue((BotStack.lines(bot1, "leader_lock_lost").first?["reason"] as? String ?? "").contains("epoch 9"))
        XCTAssertTrue(z.botReplies(to: BotStack.alice, after: m).isEmpty, "the superseded leader sent a reply")
        let bot2 = try stack.startBot()
        XCTAssertEqual(BotStack.lines(bot2, "leader").first?["epoch"] as? Int, 10)
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: m).count, 1)
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m).count, 1)
    }

    /// BOT_STATE_DIR on a 64 KiB tmpfs, filled up while the bot leads: exactly-once rests on
    /// the state write, so the leader answers nothing (before, it kept answering and a kill -9
    /// made the next leader answer again), says why in /healthz (503 "degraded"), logs once,
    /// counts the failures, and once there is space again answers each DM exactly once; a
    /// kill -9 then leaves the next leader nothing to answer twice.
    func testAFullStateDirectoryStopsTheLeaderUntilThereIsSpace() throws {
        try XCTSkipUnless(getuid() == 0, "mounting a tmpfs needs root")
        stack = try BotStack()
        let z = stack.zulip
        let state = stack.dir + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let mount = TestProcess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", state])
        try XCTSkipUnless(mount.status == 0, "cannot mount a tmpfs here: \(mount.stderr)")
        defer { _ = TestProcess.run("/bin/umount", ["-l", state]) }
        let env = ["BOT_STATE_DIR": state, "BOT_LOCK_FILE": state + "/leader.lock"]
        let bot1 = try stack.startBot(env)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { FileManager.default.fileExists(atPath: state + "/watermark.json") })
        let port = try XCTUnwrap(BotStack.metricsPort(bot1))
        // Fill it: cat stops at ENOSPC.
        _ = TestProcess.run("/bin/sh", ["-c", "cat /dev/zero > '\(state)/filler'"])

        // Alice and Bob may have these codes; Carol, not in the ACL, gets the help.
        let users = [BotStack.alice, BotStack.bob, BotStack.carol]
        let ids = zip(users, ["code certus", "code github", "help"]).map { z.dm(from: $0, $1) }
        var health = ""
        XCTAssertTrue(TestProcess.waitUntil(timeout: 10) {
            health = self.fetch("http://127.0.0.1:\(port)/healthz") ?? ""
            return health.contains(#""status":"degraded""#)
        }, health)
        XCTAssertTrue(health.contains(#""reason":"state_not_writable""#) && health.contains("No space left on device"), health)
        XCTAssertEqual(TestProcess.run(BotStack.productsDirectory + "/totp-bot", ["--healthcheck", "http://127.0.0.1:\(port)/healthz"]).status, 1)
        for id in ids { XCTAssertNotNil(waitForLine(bot1, "dm_parked") { $0["message_id"] as? Int == id }, "DM \(id) was not held back") }
        XCTAssertEqual(z.messages(after: ids[0] - 1).filter { $0.senderEmail == ZulipEmulator.botEmail }.count, 0,
                       "the leader answered DMs it could not put on record")
        XCTAssertEqual(BotStack.lines(bot1, "state_write_failed").count, 1, "logged once")
        let metrics = fetch("http://127.0.0.1:\(port)/metrics") ?? ""
        XCTAssertTrue(metrics.contains("bot_state_writable 0"), metrics)
        XCTAssertFalse(metrics.contains("bot_state_write_failures_total 0"), metrics)

        // Space again: it resumes, answering each DM once.
        try FileManager.default.removeItem(atPath: state + "/filler")
        for (user, id) in zip(users, ids) {
            let replies = z.waitForReplies(to: user, after: id, timeout: 10)
            XCTAssertEqual(replies.count, 1, user)
            XCTAssertEqual(BotStack.code(in: replies.first?.content ?? "") != nil, user != BotStack.carol, user)
        }
        XCTAssertNotNil(waitForLine(bot1, "state_write_recovered"))
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { (self.fetch("http://127.0.0.1:\(port)/healthz") ?? "").contains(#""status":"ok""#) })
        XCTAssertTrue(fetch("http://127.0.0.1:\(port)/metrics")?.contains("bot_state_writable 1") == true)

        // kill -9, and the next leader has nothing to answer again.
        let last = try XCTUnwrap(z.messages().map(\.id).max())
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { self.watermark(in: state) >= last }, "the watermark passed every DM and reply")
        bot1.signal(SIGKILL)
        bot1.waitForExit(timeout: 5)
        let bot2 = try stack.startBot(env)
        XCTAssertEqual(waitForLine(bot2, "catch_up")?["to_answer"] as? Int, 0)
        let m = z.dm(from: BotStack.alice, "help")
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: m).count, 1)
        XCTAssertEqual(z.messages(after: ids[0] - 1).filter { $0.senderEmail == ZulipEmulator.botEmail }.count, 4, "3 DMs and the help, once each")
    }

    private func watermark(in dir: String) -> Int {
        guard let data = FileManager.default.contents(atPath: dir + "/watermark.json"),
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return 0 }
        return json["last_message_id"] as? Int ?? 0
    }
}
