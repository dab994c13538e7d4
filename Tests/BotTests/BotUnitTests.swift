import Foundation
import Shared
import Synchronization
import XCTest
@testable import Bot
@testable import CurlHTTP

/// In-process tests of the bot's pure parts: ACL, commands, replies, catch-up plan, zuliprc,
/// configuration, error mapping, back-off, rate limit, lock and watermark.
final class BotUnitTests: XCTestCase {
    func testAccessListParsesEmailsIDsAndWildcards() throws {
        let acl = try AccessList.parse("Alice@Example.com:*; bob@example.com:Certus,github ;42:demo", source: "BOT_ACL")
        XCTAssertTrue(acl.allows(userID: 1, email: "alice@example.COM", label: "anything"))
        XCTAssertTrue(acl.allows(userID: 2, email: "BOB@example.com", label: "certus"))
        XCTAssertFalse(acl.allows(userID: 2, email: "bob@example.com", label: "demo"))
        XCTAssertTrue(acl.allows(userID: 42, email: "x@y.z", label: "demo"))
        XCTAssertFalse(acl.allows(userID: 43, email: "x@y.z", label: "demo"))
        // Id and email entries of one person add up.
        XCTAssertTrue(acl.allows(userID: 42, email: "bob@example.com", label: "github"))
        XCTAssertEqual(acl.count, 3)

        let file = try AccessList.parse("# who = labels\nalice@example.com = demo\n\n7:*\n", source: "acl")
        XCTAssertTrue(file.allows(userID: 0, email: "alice@example.com", label: "demo"))
        XCTAssertTrue(file.allows(userID: 7, email: "", label: "x"))

        var legacy = AccessList()
        try legacy.addAllowedSenders("a@x.org, 9", source: "ALLOWED_SENDERS")
        XCTAssertTrue(legacy.allows(userID: 9, email: "", label: "z"))
        XCTAssertTrue(legacy.allows(userID: 0, email: "A@x.org", label: "z"))
        XCTAssertTrue(AccessList().isEmpty)
        XCTAssertFalse(AccessList().allows(userID: 1, email: "a@b.c", label: "x"))
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
        XCTAssertEqual(BotCommand.parse("code a b"), .unknown)
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
            dm(10, from: 5, partner: 5),          // answered by 12
            dm(11, from: 5, partner: 5),          // answered by 13
            dm(12, from: 1, partner: 5),
            dm(13, from: 1, partner: 5),
            dm(14, from: 5, partner: 5),          // unanswered: the leader died
            dm(15, from: 6, partner: 6, at: 500), // too old
            dm(16, from: 6, partner: 6),          // unanswered
            ZulipMessage(id: 17, type: "private", sender_id: 7, sender_email: "g", content: "code a", timestamp: 1000,
                         participants: [.init(id: 1, email: "b"), .init(id: 7, email: "g"), .init(id: 8, email: "h")]),
            ZulipMessage(id: 18, type: "stream", sender_id: 7, sender_email: "g", content: "code a", timestamp: 1000, participants: []),
        ]
        let plan = CatchUpPlan(messages: messages.shuffled(), botID: 1, now: 1010, maxAge: 120)
        XCTAssertEqual(plan.toAnswer.map(\.id), [14, 16])
        XCTAssertEqual(plan.alreadyAnswered, 2)
        XCTAssertEqual(plan.tooOld, 1)
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
        XCTAssertTrue(config.acl.allows(userID: 0, email: "alice@example.com", label: "x"))
        XCTAssertFalse(config.description.contains("rc-key") || config.description.contains("file-token"))

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

    /// The descriptor number of the open lock file, from /proc/self/fd.
    private func lockFD(path: String) throws -> Int {
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)"), target == path {
                return Int(entry) ?? -1
            }
        }
        throw NSError(domain: "lock", code: 1)
    }

    func testWatermarkOnlyMovesForwardAndSurvivesRestart() throws {
        let dir = NSTemporaryDirectory() + "botmark-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = WatermarkStore(directory: dir)
        XCTAssertNil(try store.load())
        XCTAssertTrue(try store.advance(to: 10))
        XCTAssertFalse(try store.advance(to: 5))
        XCTAssertEqual(store.current, 10)
        XCTAssertEqual(try WatermarkStore(directory: dir).load(), 10)
        try "garbage".write(toFile: store.path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try WatermarkStore(directory: dir).load())
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
