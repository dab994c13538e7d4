import Foundation
import Platform
import TOTP
import Synchronization
import XCTest
@testable import Bot
@testable import CurlHTTP

/// In-process tests of the bot's pure parts: ACL, commands, replies, catch-up plan, zuliprc,
/// configuration, error mapping, back-off, rate limit, lock and watermark.
final class BotUnitTests: XCTestCase {
    func testAccessListParsesEmailsIDsAndWildcards() throws {
        let acl = try AccessList.parse("Alice@Example.com:*; bob@example.com:Certus,github ;42:demo", source: "BOT_ACL")
        XCTAssertTrue(acl.allows(userID: 1, emails: ["alice@example.COM"], label: "anything"))
        XCTAssertTrue(acl.allows(userID: 2, emails: ["BOB@example.com"], label: "certus"))
        XCTAssertFalse(acl.allows(userID: 2, emails: ["bob@example.com"], label: "demo"))
        XCTAssertTrue(acl.allows(userID: 42, emails: ["x@y.z"], label: "demo"))
        XCTAssertFalse(acl.allows(userID: 43, emails: ["x@y.z"], label: "demo"))
        // Id and email entries of one person add up.
        XCTAssertTrue(acl.allows(userID: 42, emails: ["bob@example.com"], label: "github"))
        XCTAssertEqual(acl.count, 3)

        let file = try AccessList.parse("# who = labels\nalice@example.com = demo\n\n7:*\n", source: "acl")
        XCTAssertTrue(file.allows(userID: 0, emails: ["alice@example.com"], label: "demo"))
        XCTAssertTrue(file.allows(userID: 7, emails: [""], label: "x"))

        var legacy = AccessList()
        try legacy.addAllowedSenders("a@x.org, 9", source: "ALLOWED_SENDERS")
        XCTAssertTrue(legacy.allows(userID: 9, emails: [""], label: "z"))
        XCTAssertTrue(legacy.allows(userID: 0, emails: ["A@x.org"], label: "z"))
        XCTAssertTrue(AccessList().isEmpty)
        XCTAssertFalse(AccessList().allows(userID: 1, emails: ["a@b.c"], label: "x"))
    }

    /// Emails fold in ASCII only: U+212A KELVIN SIGN is not "k" (Swift's lowercased() says it is).
    func testAccessListFoldsEmailsInASCIIOnly() throws {
        XCTAssertEqual("\u{212A}ate@example.com".lowercased(), "kate@example.com", "the trap this guards against")
        XCTAssertEqual("Kate@Example.COM".asciiLowercased, "kate@example.com")
        XCTAssertEqual("\u{212A}ate@example.com".asciiLowercased, "\u{212A}ate@example.com")
        let acl = try AccessList.parse("kate@example.com:*", source: "BOT_ACL")
        XCTAssertTrue(acl.allows(userID: 5, emails: ["KATE@example.com"], label: "x"))
        XCTAssertFalse(acl.allows(userID: 5, emails: ["\u{212A}ate@example.com"], label: "x"))
        XCTAssertFalse(acl.allows(userID: 5, emails: ["kate@example.com\u{0301}"], label: "x"))
        XCTAssertEqual(acl.emails, ["kate@example.com"])
    }

    /// Register's lists, then realm_user events: a new user, an email change (the API email
    /// and the delivery email), a deactivation either way, an address claimed twice.
    func testUserDirectoryFollowsRealmUserEventsAndResolvesTheACL() throws {
        let dir = UserDirectory()
        XCTAssertFalse(dir.load(ZulipQueue(queue_id: "q", last_event_id: -1)), "no realm_users: nothing to go by")
        var queue = ZulipQueue(queue_id: "q", last_event_id: -1)
        queue.realm_users = [ZulipUser(user_id: 26, email: "bot@example.com", is_bot: true),
                             ZulipUser(user_id: 31, email: "Kate@example.com", delivery_email: "kate@example.com"),
                             ZulipUser(user_id: 32, email: "user32@chat.example.com", delivery_email: nil)]
        queue.realm_non_active_users = [ZulipUser(user_id: 33, email: "old@example.com")]
        queue.cross_realm_bots = [ZulipUser(user_id: 1, email: "notification-bot@zulip.com")]
        XCTAssertTrue(dir.load(queue))
        XCTAssertEqual(dir.isBot(26), true)
        XCTAssertEqual(dir.isBot(1), true, "cross-realm bots are bots")
        XCTAssertEqual(dir.isBot(31), false)
        XCTAssertNil(dir.isBot(99))
        XCTAssertEqual(dir.emails(of: 31), ["kate@example.com"])
        XCTAssertEqual(dir.emails(of: 33), [], "deactivated")
        let acl = try AccessList.parse("kate@example.com:*;old@example.com:*;echo@example.com:*;\u{212A}ate@example.com:x", source: "BOT_ACL")
        XCTAssertEqual(acl.resolutions(in: dir), ["kate@example.com": .user(31), "old@example.com": .nobody,
                                                   "echo@example.com": .nobody, "\u{212A}ate@example.com": .nobody])

        func event(_ op: String, _ person: ZulipPersonChange) -> ZulipEvent {
            ZulipEvent(id: 1, type: "realm_user", op: op, person: person)
        }
        // A new bot; an update for someone never seen is ignored.
        XCTAssertTrue(dir.apply(event("add", ZulipPersonChange(user_id: 40, email: "echo@example.com", delivery_email: .some("echo@example.com"), is_bot: true, is_active: true))))
        XCTAssertEqual(dir.isBot(40), true)
        XCTAssertFalse(dir.apply(event("update", ZulipPersonChange(user_id: 77, new_email: "x@example.com"))))
        XCTAssertFalse(dir.apply(ZulipEvent(id: 2, type: "heartbeat")))
        // Kate moves: first her delivery email, then her API email.
        XCTAssertTrue(dir.apply(event("update", ZulipPersonChange(user_id: 31, delivery_email: .some("kate.new@example.com")))))
        XCTAssertEqual(Set(dir.emails(of: 31)), ["kate@example.com", "kate.new@example.com"])
        XCTAssertTrue(dir.apply(event("update", ZulipPersonChange(user_id: 31, new_email: "kate.new@example.com"))))
        XCTAssertEqual(dir.emails(of: 31), ["kate.new@example.com"])
        XCTAssertEqual(acl.resolutions(in: dir)["kate@example.com"], .nobody)
        // Someone else takes the old address: the entry now names them.
        XCTAssertTrue(dir.apply(event("add", ZulipPersonChange(user_id: 41, email: "kate@example.com", delivery_email: .some("kate@example.com"), is_bot: false))))
        XCTAssertEqual(acl.resolutions(in: dir)["kate@example.com"], .user(41))
        // The same address as one user's API email and another's delivery email: nobody's.
        XCTAssertTrue(dir.apply(event("update", ZulipPersonChange(user_id: 32, delivery_email: .some("KATE@example.com")))))
        XCTAssertEqual(acl.resolutions(in: dir)["kate@example.com"], .ambiguous([32, 41]))
        XCTAssertEqual(dir.emails(of: 41), [])
        XCTAssertTrue(dir.apply(event("update", ZulipPersonChange(user_id: 32, delivery_email: .some(nil)))))
        XCTAssertEqual(dir.emails(of: 41), ["kate@example.com"])
        // Deactivation (FL 222+: update is_active; before: remove) and reactivation.
        XCTAssertTrue(dir.apply(event("update", ZulipPersonChange(user_id: 41, is_active: false))))
        XCTAssertEqual(dir.emails(of: 41), [])
        XCTAssertTrue(dir.apply(event("update", ZulipPersonChange(user_id: 41, is_active: true))))
        XCTAssertTrue(dir.apply(event("remove", ZulipPersonChange(user_id: 41))))
        XCTAssertEqual(acl.resolutions(in: dir)["kate@example.com"], .nobody)
        XCTAssertEqual(dir.isBot(41), false, "a deactivated user is still known")
    }

    func testRealmUserEventsDecodeLeniently() throws {
        let json = #"{"events":[{"id":1,"type":"realm_user","op":"update","person":{"user_id":5,"delivery_email":null}},"#
            + #"{"id":2,"type":"realm_user","op":"update","person":{"user_id":5,"new_email":"a@b.c"}},"#
            + #"{"id":3,"type":"realm_user","op":"update","person":{"custom_profile_field":{"id":1}}},"#
            + #"{"id":4,"type":"heartbeat"}]}"#
        let batch = try JSONDecoder().decode(ZulipEventBatch.self, from: Data(json.utf8))
        XCTAssertEqual(batch.events.count, 4)
        XCTAssertEqual(batch.events[0].person?.delivery_email, .some(nil), "present and null: hidden now")
        XCTAssertEqual(batch.events[1].person?.delivery_email, nil as String??, "absent: unchanged")
        XCTAssertEqual(batch.events[1].person?.new_email, "a@b.c")
        XCTAssertNil(batch.events[2].person, "a shape without user_id does not fail the batch")
    }

    func testAccessListRejectsMalformedEntriesWithLineNumbers() {
        XCTAssertThrowsError(try AccessList.parse("alice@example.com:ok\nnobody\nbob@x.org:Bad Label!", source: "acl")) { error in
            let problems = (error as! ConfigError).problems
            XCTAssertEqual(problems.count, 2)
            XCTAssertEqual(problems[0].source, "acl:2")
            XCTAssertEqual(problems[1].source, "acl:3")
        }
        XCTAssertThrowsError(try AccessList.parse("a@b.c:", source: "BOT_ACL"))
        XCTAssertThrowsError(try AccessList.parse("a@b.c:x,*", source: "BOT_ACL"))
    }

    func testCommandsAreCaseInsensitive() {
        XCTAssertEqual(BotCommand.parse("code certus"), .code(label: "certus"))
        XCTAssertEqual(BotCommand.parse("  CODE  Certus \n"), .code(label: "certus"))
        XCTAssertEqual(BotCommand.parse("code `certus`"), .code(label: "certus"))
        XCTAssertEqual(BotCommand.parse("@**TOTP Bot** code x"), .code(label: "x"))
        XCTAssertEqual(BotCommand.parse("Labels"), .labels)
        XCTAssertEqual(BotCommand.parse("HELP"), .help)
        XCTAssertEqual(BotCommand.parse("code"), .help)
        // The text after the label is the reason, as written (issue 14).
        XCTAssertEqual(BotCommand.parse("code a b"), .code(label: "a", reason: "b"))
        XCTAssertEqual(BotCommand.parse("code Prod  Deploy the `fix`\nnow "), .code(label: "prod", reason: "Deploy the `fix`\nnow"))
        XCTAssertEqual(BotCommand.parse("approve 7"), .approve(number: 7))
        XCTAssertEqual(BotCommand.parse("Approve #7"), .approve(number: 7))
        XCTAssertEqual(BotCommand.parse("approve"), .approve(number: nil))
        XCTAssertEqual(BotCommand.parse("approve seven"), .unknown)
        XCTAssertEqual(BotCommand.parse("deny 7 Not during the Freeze"), .deny(number: 7, why: "Not during the Freeze"))
        XCTAssertEqual(BotCommand.parse("deny 7"), .deny(number: 7, why: nil))
        XCTAssertEqual(BotCommand.parse("deny no way"), .deny(number: nil, why: "no way"))
        XCTAssertEqual(BotCommand.parse("pending"), .pending)
        XCTAssertEqual(BotCommand.parse("GRANTS"), .grants)
        XCTAssertEqual(BotCommand.parse("@**TOTP Bot** code x why"), .code(label: "x", reason: "why"))
        XCTAssertEqual(BotCommand.parse("hello"), .unknown)
        XCTAssertEqual(BotCommand.parse(""), .unknown)
    }

    func testRepliesSayTheSecondsAndTheNextCodeAndNeverDistinguishForbiddenFromUnknown() {
        XCTAssertEqual(ReplyFormatter.code(code: "123456", label: "certus", remaining: 17, next: nil),
                       "`123456` for certus — valid for 17 s more.")
        XCTAssertEqual(ReplyFormatter.code(code: "123456", label: "certus", remaining: 3, next: ("654321", 3, 1_800_000_000)),
                       "`123456` for certus — valid for 3 s more. Next code `654321` starts in 3 s, valid until 08:00:00 UTC.")
        XCTAssertEqual(ReplyFormatter.notAvailable(label: "Certus"), ReplyFormatter.notAvailable(label: "certus"))
        XCTAssertFalse(ReplyFormatter.notAvailable(label: "x y`z").contains("`x"))
        XCTAssertEqual(ReplyFormatter.utcTime(0), "00:00:00")
        XCTAssertTrue(ReplyFormatter.expired(label: "certus").contains("expired"))
    }

    private func dm(_ id: Int, from sender: Int, partner: Int, bot: Int = 1, at t: Int64 = 1000) -> ZulipMessage {
        ZulipMessage(id: id, type: "private", sender_id: sender, sender_email: "u\(sender)@x", content: "code a", timestamp: t,
                     participants: [.init(id: bot, email: "bot@x"), .init(id: partner, email: "u\(partner)@x")])
    }

    func testCatchUpAnswersOnlyUnansweredYoungOneToOneRequests() {
        let messages = [
            dm(10, from: 5, partner: 5),          // answered by 12 (recorded)
            dm(11, from: 5, partner: 5),          // answered by 13 (recorded)
            dm(12, from: 1, partner: 5),
            dm(13, from: 1, partner: 5),
            dm(14, from: 5, partner: 5),          // unanswered: the leader died
            dm(15, from: 6, partner: 6, at: 500), // too old
            dm(16, from: 6, partner: 6),          // unanswered
            ZulipMessage(id: 17, type: "private", sender_id: 7, sender_email: "g", content: "code a", timestamp: 1000,
                         participants: [.init(id: 1, email: "b"), .init(id: 7, email: "g"), .init(id: 8, email: "h")]),
            ZulipMessage(id: 18, type: "stream", sender_id: 7, sender_email: "g", content: "code a", timestamp: 1000, participants: []),
        ]
        let plan = CatchUpPlan(messages: messages.shuffled(), botID: 1, now: 1010, maxAge: 120, replies: [10: 12, 11: 13], sending: [])
        XCTAssertEqual(plan.toAnswer.map(\.id), [14, 16])
        XCTAssertEqual(plan.alreadyAnswered, 2)
        XCTAssertEqual(plan.tooOld, 1)
        XCTAssertEqual(Set(plan.settled), [10, 11, 12, 13, 15, 17, 18])
        XCTAssertTrue(plan.inferredReplies.isEmpty)
    }

    /// The access workflow's own messages (an ask, an approved code) answer no DM: an in-doubt
    /// request of the same person must not be paired with one (issue 14).
    func testCatchUpDoesNotTakeTheOutboxsMessagesForReplies() {
        let window = [dm(40, from: 5, partner: 5), dm(41, from: 1, partner: 5)]
        let paired = CatchUpPlan(messages: window, botID: 1, now: 1010, maxAge: 120, replies: [:], sending: [40])
        XCTAssertEqual(paired.inferredReplies, [40: 41], "without knowing 41, it pairs (the defect)")
        let plan = CatchUpPlan(messages: window, botID: 1, now: 1010, maxAge: 120, replies: [:], sending: [40], sentOnItsOwn: [41])
        XCTAssertEqual(plan.toAnswer.map(\.id), [40])
        XCTAssertTrue(plan.inferredReplies.isEmpty)
        XCTAssertEqual(plan.settled, [41])
    }

    /// The audit's case: alice 3031 (the watermark), alice 3032 sent before the reply to 3031,
    /// then that reply 3033. The reply answers 3031, not 3032: 3032 must still be answered.
    func testCatchUpDoesNotCountTheReplyToTheWatermarkAsTheNextAnswer() {
        let window = [dm(3032, from: 5, partner: 5), dm(3033, from: 1, partner: 5)]
        let exact = CatchUpPlan(messages: window, botID: 1, now: 1010, maxAge: 120, replies: [3031: 3033], sending: [])
        XCTAssertEqual(exact.toAnswer.map(\.id), [3032])
        XCTAssertEqual(exact.alreadyAnswered, 0)
        // 3032's reply was being sent when the leader died (no answer recorded): the bot message
        // after it that no recorded reply claims is its answer, the reply to 3031 is not.
        let inDoubt = CatchUpPlan(messages: window + [dm(3034, from: 1, partner: 5)], botID: 1, now: 1010, maxAge: 120,
                                  replies: [3031: 3033], sending: [3032])
        XCTAssertEqual(inDoubt.toAnswer.map(\.id), [])
        XCTAssertEqual(inDoubt.inferredReplies, [3032: 3034])
        // In doubt but no such bot message: it was never sent, answer it.
        let neverSent = CatchUpPlan(messages: window, botID: 1, now: 1010, maxAge: 120, replies: [3031: 3033], sending: [3032])
        XCTAssertEqual(neverSent.toAnswer.map(\.id), [3032])
        // Interleaved conversations: each reply pairs only within its own conversation.
        let mixed = [dm(20, from: 5, partner: 5), dm(21, from: 6, partner: 6), dm(22, from: 1, partner: 6),
                     dm(23, from: 5, partner: 5), dm(24, from: 1, partner: 5)]
        let plan = CatchUpPlan(messages: mixed.shuffled(), botID: 1, now: 1010, maxAge: 120, replies: [20: 24], sending: [21, 23])
        XCTAssertEqual(plan.inferredReplies, [21: 22])
        XCTAssertEqual(plan.toAnswer.map(\.id), [23])
        // Retrying 23 while alice has 25 in progress: 25's reply (26) may not be recorded yet,
        // so 23 is deferred rather than paired with it.
        let retry = CatchUpPlan(messages: mixed + [dm(25, from: 5, partner: 5), dm(26, from: 1, partner: 5)], botID: 1, now: 1010,
                                maxAge: 120, replies: [20: 24], sending: [23], taken: [20, 21, 22, 24, 25], busy: [5])
        XCTAssertEqual(retry.deferred, 1)
        XCTAssertEqual(retry.toAnswer.map(\.id), [])
        XCTAssertTrue(retry.inferredReplies.isEmpty)
        XCTAssertFalse(retry.settled.contains(23))
        // Messages this process is already handling are left alone.
        let busy = CatchUpPlan(messages: window, botID: 1, now: 1010, maxAge: 120, replies: [3031: 3033], sending: [], taken: [3032])
        XCTAssertEqual(busy.toAnswer.map(\.id), [])
        XCTAssertFalse(busy.settled.contains(3032))
        // A state file of the first version (no replies recorded): order-based pairing, with
        // the watermark's own message fetched so that it takes its reply first.
        let legacy = CatchUpPlan(messages: [dm(40, from: 5, partner: 5), dm(41, from: 1, partner: 5), dm(42, from: 5, partner: 5)],
                                 botID: 1, now: 1010, maxAge: 120, replies: [:], sending: [], legacy: true)
        XCTAssertEqual(legacy.toAnswer.map(\.id), [42])
        let audit = CatchUpPlan(messages: [dm(3031, from: 5, partner: 5)] + window, botID: 1, now: 1010, maxAge: 120,
                                replies: [:], sending: [], legacy: true, watermark: 3031)
        XCTAssertEqual(audit.toAnswer.map(\.id), [3032])
        XCTAssertEqual(audit.alreadyAnswered, 0)
        XCTAssertFalse(audit.settled.contains(3031), "at the watermark: settled already")
    }

    func testProgressMovesTheWatermarkOnlyPastSettledMessages() {
        var p = MessageProgress(watermark: 3031)
        XCTAssertTrue(p.claim(3032))
        XCTAssertTrue(p.claim(3033))
        XCTAssertFalse(p.claim(3033), "a message met twice is handled once")
        p.settle(3033)
        XCTAssertNil(p.advance(), "3032 is still open")
        p.fail(3032)
        XCTAssertNil(p.advance(), "a failed reply holds the watermark back")
        XCTAssertFalse(p.isTaken(3032))
        XCTAssertTrue(p.claim(3032), "a catch-up may retry it")
        XCTAssertTrue(p.isTaken(3032))
        p.settle(3032)
        XCTAssertEqual(p.advance(), 3033)
        XCTAssertTrue(p.claim(3040))
        XCTAssertEqual(p.advance(), 3039, "up to just below the open one")
        p.settle(3040)
        XCTAssertEqual(p.advance(), 3040)
        XCTAssertFalse(p.claim(3032), "still remembered after the watermark passed it")
        var first = MessageProgress(watermark: nil)
        XCTAssertNil(first.advance())
        first.initialise(watermark: 500)
        XCTAssertEqual(first.watermark, 500)
    }

    func testDispatcherRunsSendersConcurrentlyButEachInOrder() {
        let dispatcher = MessageDispatcher(maxConcurrent: 3)
        let log = Mutex<[String]>([])
        let gate = DispatchSemaphore(value: 0)
        // Sender 1's first job blocks; sender 2 and 3 are not held up by it.
        dispatcher.submit(key: 1) { gate.wait(); log.withLock { $0.append("1a") } }
        dispatcher.submit(key: 1) { log.withLock { $0.append("1b") } }
        dispatcher.submit(key: 2) { log.withLock { $0.append("2a") } }
        dispatcher.submit(key: 3) { log.withLock { $0.append("3a") } }
        let deadline = Date().addingTimeInterval(5)
        while log.withLock({ $0.count }) < 2 && Date() < deadline { usleep(5_000) }
        XCTAssertEqual(Set(log.withLock { $0 }), ["2a", "3a"])
        XCTAssertNotNil(dispatcher.oldestUnfinished())
        gate.signal()
        XCTAssertTrue(dispatcher.waitUntilIdle(timeout: .seconds(5)))
        let order = log.withLock { $0 }
        XCTAssertEqual(order.filter { $0.hasPrefix("1") }, ["1a", "1b"])
        XCTAssertNil(dispatcher.oldestUnfinished())
        // Stopped: queued work is dropped, running work finishes.
        dispatcher.submit(key: 4) { gate.wait() }
        dispatcher.submit(key: 4) { log.withLock { $0.append("never") } }
        while dispatcher.runningCount == 0 && Date() < deadline { usleep(5_000) }
        XCTAssertEqual(dispatcher.stop(), 1)
        gate.signal()
        XCTAssertTrue(dispatcher.waitUntilIdle(timeout: .seconds(5)))
        dispatcher.submit(key: 5) { log.withLock { $0.append("never") } }
        XCTAssertTrue(dispatcher.waitUntilIdle(timeout: .seconds(5)), "work submitted after the stop would have run by now")
        XCTAssertFalse(log.withLock { $0 }.contains("never"))
    }

    func testZuliprcAndEnvironmentPrecedence() throws {
        let rc = try ZulipRC.parse("# comment\n[api]\nemail = bot@example.com\nkey=abc\nsite=chat.example.com\n[other]\nkey=no\n", source: "rc")
        XCTAssertEqual(rc.values["key"], "abc")
        XCTAssertEqual(rc.values["site"], "chat.example.com")
        XCTAssertThrowsError(try ZulipRC.parse("email=x\n", source: "rc"))

        XCTAssertEqual(BotConfiguration.normalizeSite("chat.example.com/"), "https://chat.example.com/api")
        XCTAssertEqual(BotConfiguration.normalizeSite("localhost:9991"), "http://localhost:9991/api")
        XCTAssertEqual(BotConfiguration.normalizeSite("http://127.0.0.1:8000/api"), "http://127.0.0.1:8000/api")

        let dir = NSTemporaryDirectory() + "botunit-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "[api]\nemail=rc@example.com\nkey=rc-key\nsite=https://rc.example.com\n".write(toFile: dir + "/zuliprc", atomically: true, encoding: .utf8)
        try "file-token\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        let env = Environment([
            "ZULIP_CONFIG": dir + "/zuliprc", "ZULIP_BOT_EMAIL": "env@example.com",
            "GATEWAY_URLS": "http://a:1, http://b:2", "GATEWAY_TOKEN_FILE": dir + "/token",
            "ALLOWED_SENDERS": "alice@example.com", "BOT_STATE_DIR": dir, "BOT_LISTEN": "127.0.0.1:9101",
            "BOT_CATCHUP_MAX_AGE": "60", "BOT_EXPIRY_EDIT": "off",
        ])
        let config = try BotConfiguration.load(environment: env, zuliprcPath: nil)
        XCTAssertEqual(config.zulipEmail, "env@example.com")  // environment beats the file
        XCTAssertEqual(config.zulipAPIKey, "rc-key")
        XCTAssertEqual(config.zulipAPIBase, "https://rc.example.com/api/v1")
        XCTAssertEqual(config.gatewayURLs, ["http://a:1", "http://b:2"])
        XCTAssertEqual(config.gatewayToken, "file-token")
        XCTAssertEqual(config.lockFile, dir + "/leader.lock")
        XCTAssertEqual(config.catchUpMaxAge, 60)
        XCTAssertFalse(config.expiryEdit)
        XCTAssertEqual(config.listen?.port, 9101)
        XCTAssertTrue(config.acl.allows(userID: 0, emails: ["alice@example.com"], label: "x"))
        XCTAssertFalse(config.description.contains("rc-key") || config.description.contains("file-token"))

        // ZULIP_ALLOW_INSECURE, then the zuliprc's insecure: TLS is always verified, so true is refused.
        try "[api]\nemail=rc@example.com\nkey=rc-key\nsite=https://rc.example.com\ninsecure=true\n".write(toFile: dir + "/insecure", atomically: true, encoding: .utf8)
        var base = ["GATEWAY_URLS": "http://a:1", "GATEWAY_TOKEN": "t", "BOT_STATE_DIR": dir]
        func problems(_ env: [String: String], rc: String? = nil) -> String {
            do { _ = try BotConfiguration.load(environment: Environment(base.merging(env) { $1 }), zuliprcPath: rc); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(problems([:], rc: dir + "/insecure").contains("zuliprc insecure"))
        XCTAssertEqual(problems(["ZULIP_ALLOW_INSECURE": "false"], rc: dir + "/insecure"), "", "the environment wins over the file")
        XCTAssertTrue(problems(["ZULIP_ALLOW_INSECURE": "true"], rc: dir + "/zuliprc").contains("ZULIP_ALLOW_INSECURE"))
        XCTAssertTrue(problems(["ZULIP_ALLOW_INSECURE": "yes"], rc: dir + "/zuliprc").contains("must be true or false"))
        base["BOT_REPLY_DEADLINE_MS"] = "2500"
        base["BOT_WATCHDOG_STALL_SECONDS"] = "30"
        let tuned = try BotConfiguration.load(environment: Environment(base), zuliprcPath: dir + "/zuliprc")
        XCTAssertEqual(tuned.replyDeadline, .milliseconds(2500))
        XCTAssertEqual(tuned.watchdogStall, .seconds(30))

        XCTAssertThrowsError(try BotConfiguration.load(environment: Environment(["ZULIP_API_KEY": "k", "ZULIP_API_KEY_FILE": "/x"]), zuliprcPath: nil)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("both ZULIP_API_KEY and ZULIP_API_KEY_FILE"), text)
            XCTAssertTrue(text.contains("GATEWAY_URLS"), text)
        }
    }

    func testZulipErrorsAreMatchedOnCodeAndStatus() {
        func failure(_ status: Int, _ body: String, headers: [(String, String)] = []) -> ZulipError? {
            ZulipClient.failure(for: HTTPClientResponse(status: status, headers: headers, body: Array(body.utf8)), method: "GET", path: "/events")
        }
        XCTAssertNil(failure(200, "{}"))
        XCTAssertEqual(failure(400, #"{"result":"error","msg":"Mauvais","code":"BAD_EVENT_QUEUE_ID","queue_id":"x"}"#)?.code, .badEventQueue)
        XCTAssertEqual(failure(400, #"{"result":"error","msg":"Bad event queue ID: x","code":"BAD_REQUEST"}"#)?.code, .badRequest)
        XCTAssertEqual(failure(401, #"{"result":"error","msg":"Invalid API key","code":"INVALID_API_KEY"}"#)?.code, .unauthorized)
        XCTAssertEqual(failure(403, #"{"result":"error","msg":"x","code":"USER_DEACTIVATED"}"#)?.code, .unauthorized)
        let limited = failure(429, #"{"result":"error","msg":"x","code":"RATE_LIMIT_HIT","retry-after":2.5}"#, headers: [("Retry-After", "1.25")])
        XCTAssertEqual(limited?.code, .rateLimited)
        XCTAssertEqual(limited?.retryAfter, 1.25)
        XCTAssertEqual(failure(429, #"{"result":"error","msg":"x","code":"RATE_LIMIT_HIT","retry-after":2.5}"#)?.retryAfter, 2.5)
        XCTAssertEqual(failure(502, "<html>bad gateway</html>")?.code, .server)
        XCTAssertEqual(failure(404, "not json")?.code, .server)
    }

    func testBackoffGrowsWithJitterUpToTheCap() {
        var b = Backoff(initial: .seconds(1), maximum: .seconds(8))
        var delays: [Duration] = []
        for _ in 0..<7 { delays.append(b.next()) }
        let bounds: [(Duration, Duration)] = [(.milliseconds(500), .seconds(1)), (.seconds(1), .seconds(2)), (.seconds(2), .seconds(4)),
                                              (.seconds(4), .seconds(8)), (.seconds(4), .seconds(8)), (.seconds(4), .seconds(8)), (.seconds(4), .seconds(8))]
        for (d, (lo, hi)) in zip(delays, bounds) {
            XCTAssertGreaterThanOrEqual(d, lo)
            XCTAssertLessThanOrEqual(d, hi)
        }
        b.reset()
        XCTAssertLessThanOrEqual(b.next(), .seconds(1))
    }

    func testPerUserRateLimit() {
        let clock = Mutex<Double>(0)
        let limiter = UserRateLimiter(burst: 2, perMinute: 6, now: { clock.withLock { $0 } })
        XCTAssertNil(limiter.check(userID: 1))
        XCTAssertNil(limiter.check(userID: 1))
        let wait = limiter.check(userID: 1)
        XCTAssertEqual(wait ?? 0, 10, accuracy: 0.01)
        XCTAssertNil(limiter.check(userID: 2), "another user has a bucket of their own")
        clock.withLock { $0 = 10 }
        XCTAssertNil(limiter.check(userID: 1))
    }

    /// One notice per limited stretch: refusals before the notice's wait has run out are silent.
    func testRateLimitNoticeOncePerWindow() {
        let clock = Mutex<Double>(0)
        let limiter = UserRateLimiter(burst: 1, perMinute: 6, now: { clock.withLock { $0 } })
        XCTAssertEqual(limiter.admit(userID: 1), .allowed)
        XCTAssertEqual(limiter.admit(userID: 1), .limited(retryIn: 10, notify: true))
        clock.withLock { $0 = 5 }
        XCTAssertEqual(limiter.admit(userID: 1), .limited(retryIn: 5, notify: false))
        XCTAssertEqual(limiter.admit(userID: 2), .allowed)
        XCTAssertEqual(limiter.admit(userID: 2), .limited(retryIn: 10, notify: true), "another user's notice is their own")
        clock.withLock { $0 = 10 }
        XCTAssertEqual(limiter.admit(userID: 1), .allowed)
        XCTAssertEqual(limiter.admit(userID: 1), .limited(retryIn: 10, notify: true), "a new stretch, a new notice")
    }

    /// A request settled without a reply on purpose counts as answered in a catch-up, and the
    /// state file keeps it until the watermark passes it.
    func testRequestsSettledWithoutAReplyAreNotAnsweredByACatchUp() {
        let plan = CatchUpPlan(messages: [dm(20, from: 5, partner: 5), dm(21, from: 5, partner: 5)], botID: 1, now: 1010, maxAge: 120,
                               replies: [:], sending: [], noReply: [21])
        XCTAssertEqual(plan.toAnswer.map(\.id), [20])
        XCTAssertEqual(plan.alreadyAnswered, 1)
        var state = LeaderState(lastMessageID: 19)
        state.noReply = [21]
        let read = LeaderState.decode(state.encoded(now: 0)!)
        XCTAssertEqual(read?.noReply, [21])
        state.advance(to: 21)
        XCTAssertEqual(state.noReply, [])
    }

    func testLeaderLockIsExclusiveAndBumpsTheEpoch() throws {
        let dir = NSTemporaryDirectory() + "botlock-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/leader.lock"
        let first = try LeaderLock(path: path)
        let record = try XCTUnwrap(first.tryAcquire())
        XCTAssertEqual(record.epoch, 1)
        XCTAssertEqual(record.pid, Int(getpid()))
        XCTAssertTrue(first.isLeader)
        // flock locks belong to the open file: a second descriptor is refused, even in-process.
        let second = try LeaderLock(path: path)
        XCTAssertNil(try second.tryAcquire())
        XCTAssertEqual(second.current, .idle)
        first.release()
        XCTAssertEqual(first.current, .released)
        let again = try XCTUnwrap(second.tryAcquire())
        XCTAssertEqual(again.epoch, 2)
        let onDisk = LeaderRecord.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        XCTAssertEqual(onDisk, again)
        // The descriptor must not leak into children.
        let fdFlags = try String(contentsOfFile: "/proc/self/fdinfo/\(lockFD(path: path))", encoding: .utf8)
        XCTAssertTrue(fdFlags.contains("flags:\t02"), "O_CLOEXEC not set: \(fdFlags)")
        second.release()
    }

    /// A lock counts only while its path names the locked file; the state directory's lock
    /// is taken too, so two lock paths over one state directory still elect one leader.
    func testLeaderLockChecksThePathAndLocksTheStateDirectory() throws {
        let dir = NSTemporaryDirectory() + "botlock-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let state = dir + "/leader.lock"
        let a = try LeaderLock(path: dir + "/a.lock", stateLock: state, minimumEpoch: { 6 })
        XCTAssertEqual(a.paths, [dir + "/a.lock", state])
        XCTAssertEqual(try XCTUnwrap(a.tryAcquire()).epoch, 7, "above the state file's epoch")
        XCTAssertNil(a.verify())
        let b = try LeaderLock(path: dir + "/b.lock", stateLock: state)
        XCTAssertNil(try b.tryAcquire(), "another lock path, the same state directory")
        XCTAssertEqual(b.current, .idle)
        XCTAssertEqual(try LeaderLock(path: state, stateLock: state).paths, [state], "the default: one file")

        // A standby that opened the file before it was deleted: when the holder goes, it finds
        // the path names another file (or none), opens it again and locks that.
        let waiting = try LeaderLock(path: dir + "/a.lock", stateLock: state)
        XCTAssertEqual(unlink(dir + "/a.lock"), 0)
        XCTAssertEqual(a.verify(), dir + "/a.lock was deleted")
        a.release()
        XCTAssertNotNil(try waiting.tryAcquire())
        XCTAssertNil(waiting.verify())
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/a.lock"), "created again")
        try "x".write(toFile: dir + "/new", atomically: false, encoding: .utf8)
        XCTAssertEqual(rename(dir + "/new", state), 0)
        XCTAssertEqual(waiting.verify(), state + " was replaced by another file")
        waiting.release()
        XCTAssertEqual(waiting.verify(), "this process does not hold the leader lock")
    }

    /// The descriptor number of the open lock file, from /proc/self/fd.
    private func lockFD(path: String) throws -> Int {
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)"), target == path {
                return Int(entry) ?? -1
            }
        }
        throw NSError(domain: "lock", code: 1)
    }

    /// A failed write is remembered until one succeeds (logged once each way, counted); a
    /// promise made before acting is rolled back when it cannot be saved, other changes wait in
    /// memory for the next successful write. A newer epoch on disk refuses the write.
    func testStateStoreTracksFailedWritesAndRefusesAnOlderEpoch() throws {
        let dir = NSTemporaryDirectory() + "botstore-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sink = LogSink.memory()
        let metrics = BotMetrics()
        let superseded = Mutex<[String]>([])
        let store = LeaderStateStore(directory: dir, logger: Logger(component: "bot", sink: sink), metrics: metrics,
                                     onSuperseded: { reason in superseded.withLock { $0.append(reason) } })
        // The directory does not exist yet: every write fails.
        XCTAssertThrowsError(try store.update { $0.advance(to: 10) })
        XCTAssertNotNil(store.writeFailure)
        XCTAssertThrowsError(try store.update(keepOnFailure: false) { $0.sending.insert(11) })
        XCTAssertEqual(store.current.sending, [], "a promise that could not be saved is dropped")
        XCTAssertEqual(store.current.lastMessageID, 10, "other changes wait in memory")
        XCTAssertFalse(store.retryWrite())
        XCTAssertEqual(sink.captured.filter { $0.contains("state_write_failed") }.count, 1, "logged once")
        XCTAssertTrue(metrics.registry.render().contains("bot_state_writable 0"))
        XCTAssertTrue(metrics.registry.render().contains("bot_state_write_failures_total 3"))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        XCTAssertTrue(store.retryWrite())
        XCTAssertNil(store.writeFailure)
        XCTAssertEqual(try LeaderStateStore(directory: dir).load().lastMessageID, 10)
        XCTAssertEqual(sink.captured.filter { $0.contains("state_write_recovered") }.count, 1)
        XCTAssertTrue(metrics.registry.render().contains("bot_state_writable 1"))

        try store.claim(epoch: 3)
        XCTAssertEqual(LeaderStateStore.epochOnDisk(directory: dir), 3)
        let newer = LeaderStateStore(directory: dir)
        try newer.load()
        try newer.claim(epoch: 4)
        XCTAssertThrowsError(try store.update { $0.advance(to: 12) }) { error in
            XCTAssertEqual((error as? LeaderStateStore.WriteFailure)?.kind, .superseded)
        }
        XCTAssertEqual(superseded.withLock { $0.count }, 1)
        XCTAssertEqual(try LeaderStateStore(directory: dir).load().lastMessageID, 10, "the older leader's write was refused")
        XCTAssertNil(store.writeFailure, "being superseded is not a disk problem")
    }

    func testLeaderStateOnlyMovesForwardAndSurvivesRestart() throws {
        let dir = NSTemporaryDirectory() + "botmark-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = LeaderStateStore(directory: dir)
        XCTAssertNil(try store.load().lastMessageID)
        try store.update { $0.advance(to: 10) }
        try store.update { $0.advance(to: 5) }
        XCTAssertEqual(store.current.lastMessageID, 10)
        try store.update { state in
            state.recordReply(to: 9, replyID: 12)     // reply above the watermark: kept
            state.recordReply(to: 8, replyID: 10)     // at the watermark: catch-up cannot meet it
            state.sending.insert(11)
            state.pendingEdits.append(PendingEdit(messageID: 12, label: "certus", dueAt: 1_800_000_000.5))
        }
        let reread = try LeaderStateStore(directory: dir).load()
        XCTAssertEqual(reread.lastMessageID, 10)
        XCTAssertEqual(reread.replies, [9: 12])
        XCTAssertEqual(reread.sending, [11])
        XCTAssertEqual(reread.pendingEdits, [PendingEdit(messageID: 12, label: "certus", dueAt: 1_800_000_000.5)])
        XCTAssertFalse(reread.legacy)
        let text = try String(contentsOfFile: store.path, encoding: .utf8)
        XCTAssertTrue(text.contains(#""last_message_id":10"#) && text.contains(#""replies":{"9":12}"#), text)
        // Moving past 12 forgets what no catch-up can meet.
        try store.update { $0.advance(to: 12) }
        XCTAssertEqual(store.current.replies, [:])
        XCTAssertEqual(store.current.sending, [])

        // The first version's file: only the watermark.
        try #"{"last_message_id":20,"updated_at":1}"#.write(toFile: store.path, atomically: true, encoding: .utf8)
        let old = try LeaderStateStore(directory: dir).load()
        XCTAssertEqual(old.lastMessageID, 20)
        XCTAssertTrue(old.legacy)
        try "garbage".write(toFile: store.path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LeaderStateStore(directory: dir).load())
        // A missing file is "no watermark yet"; any other failure (a file where the directory
        // should be) is an error, told apart by errno.
        try "x".write(toFile: dir + "/notadir", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LeaderStateStore(directory: dir + "/notadir").load()) { error in
            XCTAssertTrue("\(error)".contains("BOT_STATE_DIR"), "\(error)")
        }
        XCTAssertNil(try LeaderStateStore(directory: dir + "/empty-\(UUID().uuidString)").load().lastMessageID)
    }

    func testMessageDecodingHandlesDirectAndStreamRecipients() throws {
        let dmJSON = #"{"id":5,"type":"private","sender_id":3,"sender_email":"a@x","content":"code a","timestamp":1,"display_recipient":[{"id":1,"email":"bot@x","full_name":"B","is_mirror_dummy":false},{"id":3,"email":"a@x","full_name":"A","is_mirror_dummy":false}]}"#
        let dm = try JSONDecoder().decode(ZulipMessage.self, from: Data(dmJSON.utf8))
        XCTAssertTrue(dm.isOneToOne(botID: 1))
        XCTAssertFalse(dm.isOneToOne(botID: 9))
        let streamJSON = #"{"id":6,"type":"stream","sender_id":3,"sender_email":"a@x","content":"x","timestamp":1,"display_recipient":"ops"}"#
        let stream = try JSONDecoder().decode(ZulipMessage.self, from: Data(streamJSON.utf8))
        XCTAssertFalse(stream.isDirect)
        XCTAssertTrue(stream.participants.isEmpty)
        XCTAssertEqual(ZulipClient.dmOperand(featureLevel: 177), "dm")
        XCTAssertEqual(ZulipClient.dmOperand(featureLevel: 176), "private")
    }
}
