import Foundation
import XCTest
import TestSupport
import CurlHTTP

/// The bot end to end against a real Zulip Server 10.0 (scripts/zulip-server): real `totp-bot`
/// processes and a real gateway, the people's side through the REST API as alice, bob and the
/// owner. Skipped unless REAL_ZULIP_RC_DIR is set (see `RealZulipTestCase`). All tests share one
/// server configuration; faults come from the recording proxy, the per-user rate limit (applied
/// at once) and one restart of Zulip's processes.
final class RealZulipTests: RealZulipTestCase {
    /// Codes match oathtool; the ACL, `labels` and `help` work; group DMs, channel messages,
    /// edits and the bot's own messages get no code; one reply per 1:1 request.
    func testCodesLabelsHelpAndNoCodeOutsideOneToOneDMs() throws {
        let bot = try stack.startBot()
        let (alice, bob, owner, me) = (zulip.alice, zulip.bob, zulip.owner, zulip.bot)
        let first = try zulip.dm(from: alice, to: [me], "code certus")
        let text = try XCTUnwrap(zulip.waitForReplies(to: alice, after: first).first?.content)
        let code = try XCTUnwrap(BotStack.code(in: text), text)
        XCTAssertTrue(BotStack.oathtoolCodes().contains(code), "\(text) vs oathtool")
        XCTAssertTrue(text.contains("for certus — valid for "), text)

        // Bob may have github, not certus; refused and unknown labels read the same.
        var m = try zulip.dm(from: bob, to: [me], "code certus")
        let forbidden = try XCTUnwrap(zulip.waitForReplies(to: bob, after: m).first?.content)
        m = try zulip.dm(from: bob, to: [me], "code nosuchlabel")
        let unknown = try XCTUnwrap(zulip.waitForReplies(to: bob, after: m).first?.content)
        XCTAssertNil(BotStack.code(in: forbidden))
        XCTAssertEqual(forbidden.replacingOccurrences(of: "certus", with: "X"), unknown.replacingOccurrences(of: "nosuchlabel", with: "X"))
        m = try zulip.dm(from: bob, to: [me], "code github")
        XCTAssertNotNil(BotStack.code(in: try XCTUnwrap(zulip.waitForReplies(to: bob, after: m).first?.content)))
        m = try zulip.dm(from: bob, to: [me], "labels")
        let labels = try XCTUnwrap(zulip.waitForReplies(to: bob, after: m).first?.content)
        XCTAssertTrue(labels.contains("`github`") && labels.contains("`fast`") && !labels.contains("certus"), labels)
        // The owner is not in the ACL.
        m = try zulip.dm(from: owner, to: [me], "code certus")
        XCTAssertEqual(zulip.waitForReplies(to: owner, after: m).first?.content, forbidden)
        m = try zulip.dm(from: owner, to: [me], "help")
        XCTAssertTrue(try XCTUnwrap(zulip.waitForReplies(to: owner, after: m).first?.content).contains("code <label>"))

        // No code outside 1:1 DMs; a mention in a group DM gets a hint only.
        let before = try zulip.newestMessageID(as: alice)
        try zulip.dm(from: alice, to: [me, bob], "code certus")
        try zulip.dm(from: alice, to: [me, bob], "@**TOTP Bot** code certus")
        try zulip.channelMessage(from: alice, channel: "ops", topic: "codes", "code certus")
        // An edit of a DM already answered is not a new request.
        let asked = try zulip.dm(from: alice, to: [me], "help")
        XCTAssertEqual(zulip.waitForReplies(to: alice, after: asked).count, 1)
        try zulip.edit(alice, message: asked, "code certus")
        // The bot's own message comes back in its queue and is ignored (as one an earlier bot
        // process sent would be).
        let own = try zulip.dm(from: me, to: [alice], "code certus")
        let marker = try zulip.dm(from: alice, to: [me], "labels")
        XCTAssertEqual(zulip.waitForReplies(to: alice, after: marker).count, 1)
        Thread.sleep(forTimeInterval: 1.5)  // time for a wrong answer to the messages above to show
        let botMessages = try zulip.messages(as: alice, after: before).filter { $0.senderID == me.id && $0.id != own }
        XCTAssertTrue(botMessages.allSatisfy { BotStack.code(in: $0.content) == nil }, "\(botMessages.map(\.content))")
        let groupReplies = botMessages.filter { $0.participants.count > 2 }
        XCTAssertEqual(groupReplies.count, 1, "only the mention gets a hint: \(groupReplies.map(\.content))")
        XCTAssertTrue(groupReplies.first?.content.contains("direct message") ?? false, "\(groupReplies.map(\.content))")
        XCTAssertFalse(botMessages.contains { $0.type == "stream" })
        XCTAssertEqual(botMessages.filter { $0.participants == [alice.id, me.id] }.map(\.id).count, 2, "help and labels only")

        // One reply per 1:1 request in alice's conversation, and one audit line per request.
        let conversation = try zulip.messages(as: alice, after: first - 1).filter { $0.participants == [alice.id, me.id] && $0.id != own }
        XCTAssertEqual(conversation.filter { $0.senderID == alice.id }.count, conversation.filter { $0.senderID == me.id }.count)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { BotStack.auditLines(bot).count == 10 }, "\(BotStack.auditLines(bot))")
        XCTAssertFalse(bot.stderr.contains(code), "a code appeared in the log")
        XCTAssertFalse(bot.stderr.contains(me.key))
    }

    /// The reply is edited once the code expires. Checked in Zulip's edit history, the
    /// database: `GET /messages` may keep serving the unedited reply from Zulip's cache when the
    /// edit raced one of this test's reads (see `RealZulip.contentHistory`).
    func testReplyIsEditedOnceTheCodeExpires() throws {
        let bot = try stack.startBot()
        let m = try zulip.dm(from: zulip.alice, to: [zulip.bot], "code fast")
        let reply = try XCTUnwrap(zulip.waitForReplies(to: zulip.alice, after: m).first)
        XCTAssertNotNil(BotStack.code(in: reply.content), reply.content)
        // Period 4 s: the code and the next one are gone within 8 s.
        var history: [String] = []
        XCTAssertTrue(TestProcess.waitUntil(timeout: 20) {
            history = (try? zulip.contentHistory(as: zulip.alice, message: reply.id)) ?? []
            if history.count >= 2 { return true }
            usleep(250_000)
            return false
        }, "the reply was not edited: its history \(history.count) versions")
        XCTAssertEqual(history.count, 2, "one edit: \(history)")
        XCTAssertNotNil(BotStack.code(in: history.first ?? ""), "the first version is the reply with its code")
        let edited = history.last ?? ""
        XCTAssertTrue(edited.contains("expired"), edited)
        XCTAssertNil(BotStack.code(in: edited), "the edited reply still shows a code")
        XCTAssertEqual(BotStack.events(bot).filter { $0 == "reply_expired_edited" }.count, 1)
    }

    func testKillNineOfTheLeaderWithADMAtOnceGetsExactlyOneReply() throws {
        let leader = try stack.startBot()
        let standby = try stack.startBot(expectLeader: false)
        var m = try zulip.dm(from: zulip.alice, to: [zulip.bot], "code certus")
        XCTAssertEqual(zulip.waitForReplies(to: zulip.alice, after: m).count, 1)
        let killedAt = Date()
        leader.signal(SIGKILL)
        m = try zulip.dm(from: zulip.alice, to: [zulip.bot], "code github")
        let replies = zulip.waitForReplies(to: zulip.alice, after: m)
        print("real Zulip: standby's reply \(Int(Date().timeIntervalSince(killedAt) * 1000)) ms after the kill")
        XCTAssertEqual(replies.count, 1)
        XCTAssertNotNil(BotStack.code(in: replies.first?.content ?? ""))
        XCTAssertTrue(BotStack.events(standby).contains("leader"))
        Thread.sleep(forTimeInterval: 2)  // a duplicate would come within this
        XCTAssertEqual(zulip.botReplies(to: zulip.alice, after: m).count, 1, "exactly one reply")
    }

    /// Zulip's processes restart (Tornado saves its queues and loads them back): a DM before and
    /// one after are each answered once, through the same queue.
    func testZulipRestartedWhileTheBotRuns() throws {
        // While Django and Tornado are down nginx answers 502; the bot backs off and retries.
        expectedFailure = { $0["status"] as? Int == 502 }
        let bot = try stack.startBot()
        let before = try zulip.dm(from: zulip.alice, to: [zulip.bot], "code certus")
        XCTAssertEqual(zulip.waitForReplies(to: zulip.alice, after: before).count, 1)
        let restart = zulip.script(["restart"])
        XCTAssertEqual(restart.status, 0, restart.output)
        let after = try zulip.dm(from: zulip.alice, to: [zulip.bot], "code github")
        XCTAssertEqual(zulip.waitForReplies(to: zulip.alice, after: after, timeout: 30).count, 1)
        Thread.sleep(forTimeInterval: 2)
        XCTAssertEqual(zulip.botReplies(to: zulip.alice, after: before).count, 2, "each DM answered once")
        XCTAssertEqual(BotStack.events(bot).filter { $0 == "queue_registered" }.count, 1, "the queue survived the restart")
        XCTAssertTrue(botCalls().contains { $0["status"] as? Int == 502 }, "the bot never saw Zulip down")
    }

    /// The bot's queue expires while its long-poll is cut off (queue_lifespan_secs 2 through the
    /// proxy); a DM sent in the gap is lost with the queue and answered once by the catch-up.
    func testExpiredQueueWithADMInTheGapIsAnsweredOnceByCatchUp() throws {
        expectedFailure = { $0["status"] as? Int == 400 && ($0["response"] as? [String: Any])?["code"] as? String == "BAD_EVENT_QUEUE_ID" }
        proxy.registerParams(["queue_lifespan_secs": "2"])
        let bot = try stack.startBot()
        let warm = try zulip.dm(from: zulip.alice, to: [zulip.bot], "code certus")
        XCTAssertEqual(zulip.waitForReplies(to: zulip.alice, after: warm).count, 1)
        proxy.hold(method: "GET", path: "/api/v1/events")
        let cutAt = Date()
        let gap = try zulip.dm(from: zulip.alice, to: [zulip.bot], "code github")
        try waitUntilZulipDropsIdleQueues(idleSince: cutAt, lifespan: 2, timeout: 90)
        proxy.release()
        let replies = zulip.waitForReplies(to: zulip.alice, after: gap, timeout: 20)
        XCTAssertEqual(replies.count, 1, "the DM sent in the gap: \(bot.stderr.suffix(2000))")
        XCTAssertNotNil(BotStack.code(in: replies.first?.content ?? ""))
        Thread.sleep(forTimeInterval: 2)
        XCTAssertEqual(zulip.botReplies(to: zulip.alice, after: warm).count, 2, "each DM answered once")
        let events = BotStack.events(bot)
        XCTAssertTrue(events.contains("queue_lost"), "\(events)")
        XCTAssertTrue(events.contains("catch_up"), "\(events)")
        XCTAssertEqual(events.filter { $0 == "queue_registered" }.count, 2, "\(events)")
        XCTAssertTrue(botCalls().contains { expectedFailure($0) }, "Zulip never said the queue was gone")
    }

    /// Zulip drops idle queues in a sweep every minute. Probe queues of the owner's (lifespan
    /// 1 s) are made one a second and each deleted once 3 s old: expired probes exist at every
    /// moment, so the first sweep takes one, and its deletion then fails. The first probe is made
    /// only once the bot's queue (idle since `idleSince`, for `lifespan` s) has expired, plus a
    /// second: a sweep that takes a probe then takes the bot's queue too. (Probes made at once
    /// expired before the bot's queue: a sweep between the two took the probe only, the queue
    /// lived on and the DM in the gap came through it; seen once in CI.)
    private func waitUntilZulipDropsIdleQueues(idleSince: Date, lifespan: TimeInterval, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        Thread.sleep(until: idleSince.addingTimeInterval(lifespan + 1))
        var probes: [(id: String, born: Date)] = []
        while Date() < deadline {
            let probe = try zulip.call(zulip.owner, "POST", "/register", [("event_types", #"["message"]"#), ("queue_lifespan_secs", "1")])
            probes.append((try XCTUnwrap(probe["queue_id"] as? String), Date()))
            while let oldest = probes.first, Date().timeIntervalSince(oldest.born) >= 3 {
                probes.removeFirst()
                do {
                    try zulip.call(zulip.owner, "DELETE", "/events", [("queue_id", oldest.id)])
                } catch let error as NSError where error.code == 400 {
                    return  // BAD_EVENT_QUEUE_ID: a sweep ran
                }
            }
            Thread.sleep(forTimeInterval: 1)
        }
        XCTFail("Zulip dropped no idle queue within \(Int(timeout)) s")
    }

    /// Zulip's own rate limit, lowered for the bot to 3 calls in 10 s (Zulip counts Django's
    /// and Tornado's calls apart): five DMs at once are all answered, once each, and after a
    /// 429 no call against the same limit is sent on that connection (one bot thread's) before
    /// its Retry-After has passed, be it the same call or the next DM's reply.
    func testZulipsRateLimitIsAnsweredByBackOffWithoutALostDM() throws {
        expectedFailure = { $0["status"] as? Int == 429 }
        try stack.startBot(["BOT_EXPIRY_EDIT": "0"])
        zulip.setRateLimit(zulip.bot, "10:3")
        defer { zulip.setRateLimit(zulip.bot, "default") }
        let (alice, bob, me) = (zulip.alice, zulip.bob, zulip.bot)
        let firstAlice = try zulip.dm(from: alice, to: [me], "code certus")
        let firstBob = try zulip.dm(from: bob, to: [me], "code github")
        try zulip.dm(from: alice, to: [me], "labels")
        try zulip.dm(from: bob, to: [me], "help")
        try zulip.dm(from: alice, to: [me], "code github")
        XCTAssertEqual(zulip.waitForReplies(to: alice, after: firstAlice, count: 3, timeout: 90).count, 3)
        XCTAssertEqual(zulip.waitForReplies(to: bob, after: firstBob, count: 2, timeout: 30).count, 2)
        Thread.sleep(forTimeInterval: 2)
        XCTAssertEqual(zulip.botReplies(to: alice, after: firstAlice).count, 3, "each DM answered once")
        XCTAssertEqual(zulip.botReplies(to: bob, after: firstBob).count, 2, "each DM answered once")

        let calls = botCalls()
        let limited = calls.filter { $0["status"] as? Int == 429 }
        XCTAssertFalse(limited.isEmpty, "Zulip's rate limit was never hit")
        var followed = 0
        for hit in limited {
            let headers = hit["response_headers"] as? [String: Any] ?? [:]
            let retryAfter = try XCTUnwrap(Double(headers["Retry-After"] as? String ?? ""), "Retry-After: \(headers)")
            let seq = hit["seq"] as? Int ?? 0
            let limit = { (c: [String: Any]) in (c["path"] as? String ?? "").hasSuffix("/events") }
            let same = { (c: [String: Any]) in c["client_port"] as? Int == hit["client_port"] as? Int && limit(c) == limit(hit) }
            guard let next = calls.first(where: { ($0["seq"] as? Int ?? 0) > seq && same($0) }) else { continue }
            followed += 1
            // `time` is when a call arrived; the 429's answer left `duration_ms` later.
            let answered = (hit["time"] as? Double ?? 0) + (hit["duration_ms"] as? Double ?? 0) / 1000
            XCTAssertGreaterThanOrEqual((next["time"] as? Double ?? 0) - answered, retryAfter - 0.05,
                                        "\(next["method"] ?? "") \(next["path"] ?? "") sent after a 429 of \(hit["method"] ?? "") \(hit["path"] ?? "") before its Retry-After \(retryAfter)")
        }
        XCTAssertGreaterThan(followed, 0, "no 429'd call was sent again on its connection")
        print("real Zulip rate limit: \(limited.count) calls got 429, \(followed) retried on the same connection")
    }

    /// Zulip's heartbeat (45-55 s into an idle long-poll) uses up an event id: the bot's next
    /// poll acknowledges it, and the next DM is answered.
    func testAnIdleBotAcknowledgesTheHeartbeatAndStillAnswers() throws {
        try stack.startBot()
        var heartbeat: [String: Any]?
        XCTAssertTrue(TestProcess.waitUntil(timeout: 75) {
            heartbeat = botCalls().first { call in
                ((call["response"] as? [String: Any])?["events"] as? [[String: Any]] ?? []).contains { $0["type"] as? String == "heartbeat" }
            }
            if heartbeat != nil { return true }
            usleep(500_000)
            return false
        }, "no heartbeat within 75 s")
        let events = try XCTUnwrap((heartbeat?["response"] as? [String: Any])?["events"] as? [[String: Any]])
        let heartbeatID = try XCTUnwrap(events.last?["id"] as? Int)
        let m = try zulip.dm(from: zulip.alice, to: [zulip.bot], "code certus")
        XCTAssertEqual(zulip.waitForReplies(to: zulip.alice, after: m).count, 1)
        let seq = heartbeat?["seq"] as? Int ?? 0
        let next = try XCTUnwrap(botCalls().first { ($0["seq"] as? Int ?? 0) > seq && $0["path"] as? String == "/api/v1/events" })
        XCTAssertEqual((next["query"] as? [String: Any])?["last_event_id"] as? String, String(heartbeatID))
    }

    /// Issue 17 against the real server's pace: the proxy swallows the answer of one long-poll
    /// and keeps its connection open and silent (a NAT or load balancer that dropped it, or the
    /// hang seen on Zulip itself). With heartbeats every 45-55 s the bot's limit is at most 70 s;
    /// a DM sent 2 s into the hang is answered once, within the limit, and a second hang right
    /// after the first recovers the same way.
    func testAHungLongPollIsAbandonedWithinTheHeartbeatPaceTwice() throws {
        let bot = try stack.startBot()
        let port = try XCTUnwrap(BotStack.metricsPort(bot))
        let health = { () -> [String: Any] in
            let http = HTTPClient(options: HTTPClientOptions(userAgent: "real-zulip-tests"))
            guard let r = try? http.perform(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz", timeout: .seconds(5))) else { return [:] }
            return (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] ?? [:]
        }
        // The limit leaves the 100 s cap once a heartbeat has answered a poll (45-55 s here).
        var limit = 100.0
        XCTAssertTrue(TestProcess.waitUntil(timeout: 80) {
            limit = health()["event_poll_limit_seconds"] as? Double ?? 100
            if limit < 100 { return true }
            usleep(500_000)
            return false
        }, "no heartbeat seen within 80 s: \(health())")
        XCTAssertLessThanOrEqual(limit, 70, "the issue's target: a hung poll costs at most 70 s at Zulip's pace")
        XCTAssertGreaterThan(limit, 55, "a slow heartbeat (55 s) must never be taken for a hang")

        let (alice, me) = (zulip.alice, zulip.bot)
        var first: Int?
        for round in 1...2 {
            let mark = proxy.requests().compactMap { $0["seq"] as? Int }.max() ?? 0
            proxy.swallow(count: 1, method: "GET", path: "/api/v1/events")
            // A DM answers the poll in progress; the bot's next poll is the one swallowed.
            let warm = try zulip.dm(from: alice, to: [me], "help")
            if first == nil { first = warm }
            XCTAssertEqual(zulip.waitForReplies(to: alice, after: warm).count, 1)
            Thread.sleep(forTimeInterval: 2)  // the issue's measure: a DM 2 s into the hang
            let sentAt = Date().timeIntervalSince1970
            let dm = try zulip.dm(from: alice, to: [me], "code certus")
            let replies = zulip.waitForReplies(to: alice, after: dm, timeout: limit + 15)
            XCTAssertEqual(replies.count, 1, "round \(round): the DM sent during the hang")
            XCTAssertNotNil(BotStack.code(in: replies.first?.content ?? ""))
            var swallowed: [String: Any]?
            XCTAssertTrue(TestProcess.waitUntil(timeout: 10) {
                swallowed = botCalls().first { ($0["seq"] as? Int ?? 0) > mark && $0["swallowed"] as? Bool == true }
                return swallowed != nil
            }, "round \(round): no poll was swallowed")
            let send = try XCTUnwrap(botCalls().last {
                ($0["seq"] as? Int ?? 0) > mark && $0["method"] as? String == "POST" && $0["path"] as? String == "/api/v1/messages"
            })
            let hungAt = try XCTUnwrap(swallowed?["time"] as? Double)
            let repliedAt = try XCTUnwrap(send["time"] as? Double)
            print("real Zulip hung long-poll \(round) (limit \(limit) s): reply \(Int((repliedAt - hungAt) * 1000)) ms after the poll hung, \(Int((repliedAt - sentAt) * 1000)) ms after the DM")
            XCTAssertGreaterThanOrEqual(repliedAt - hungAt, limit * 0.9, "answered before the poll was abandoned: no hang was tested")
            XCTAssertLessThanOrEqual(repliedAt - hungAt, limit + 5, "deaf longer than the limit")
            XCTAssertEqual(BotStack.lines(bot, "events_poll_abandoned").count, round)
        }
        proxy.release()  // frees the proxy's silent connections
        Thread.sleep(forTimeInterval: 2)  // a duplicate would come within this
        XCTAssertEqual(zulip.botReplies(to: alice, after: try XCTUnwrap(first)).count, 4, "two help and two code requests, each answered once")
        XCTAssertEqual(BotStack.lines(bot, "queue_registered").count, 1, "the same queue polled again")
        XCTAssertEqual(BotStack.auditLines(bot).count, 4)
    }
}
