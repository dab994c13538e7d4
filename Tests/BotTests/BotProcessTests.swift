import Foundation
import XCTest
import TestSupport
@testable import Bot
@testable import CurlHTTP

/// Real processes on loopback: the test Zulip, a real gateway, real `totp-bot`s. Every test
/// ends by checking every request the bot sent and every answer it got against Zulip's
/// OpenAPI spec (spec_check, 0 violations).
final class BotProcessTests: BotProcessTestCase {
    func testDirectMessageGetsTheRightCodeAndACLIsEnforced() throws {
        stack = try BotStack()
        let bot = try stack.startBot()
        let z = stack.zulip

        // Alice may read everything: the code matches an independent implementation.
        var m = z.dm(from: BotStack.alice, "code certus")
        let text = try XCTUnwrap(reply(BotStack.alice, after: m))
        let code = try XCTUnwrap(BotStack.code(in: text), text)
        XCTAssertTrue(BotStack.oathtoolCodes().contains(code), "\(text) vs oathtool")
        XCTAssertTrue(text.contains("for certus — valid for "), text)

        // Case-insensitive commands.
        m = z.dm(from: BotStack.alice, "  CODE Certus ")
        XCTAssertNotNil(BotStack.code(in: try XCTUnwrap(reply(BotStack.alice, after: m))))

        // Bob may read github, not certus; an unknown label gets the same words.
        m = z.dm(from: BotStack.bob, "code certus")
        let forbidden = try XCTUnwrap(reply(BotStack.bob, after: m))
        m = z.dm(from: BotStack.bob, "code nosuchlabel")
        let unknown = try XCTUnwrap(reply(BotStack.bob, after: m))
        XCTAssertNil(BotStack.code(in: forbidden))
        XCTAssertEqual(forbidden.replacingOccurrences(of: "certus", with: "X"), unknown.replacingOccurrences(of: "nosuchlabel", with: "X"))
        m = z.dm(from: BotStack.bob, "code github")
        XCTAssertNotNil(BotStack.code(in: try XCTUnwrap(reply(BotStack.bob, after: m))))
        m = z.dm(from: BotStack.bob, "labels")
        let labels = try XCTUnwrap(reply(BotStack.bob, after: m))
        XCTAssertTrue(labels.contains("`github`") && labels.contains("`fast`") && !labels.contains("certus"), labels)

        // Carol is not in the ACL at all.
        m = z.dm(from: BotStack.carol, "code certus")
        let refused = try XCTUnwrap(reply(BotStack.carol, after: m))
        XCTAssertNil(BotStack.code(in: refused))
        XCTAssertEqual(refused, forbidden)
        m = z.dm(from: BotStack.carol, "help")
        XCTAssertTrue(try XCTUnwrap(reply(BotStack.carol, after: m)).contains("code <label>"))

        // Group DMs and streams never get a code; a mention in a group gets a hint only.
        let before = z.messages().map(\.id).max() ?? 0
        z.dm(from: BotStack.alice, "code certus", others: [BotStack.bob])
        z.dm(from: BotStack.alice, "@**TOTP Bot** code certus", others: [BotStack.bob])
        z.streamMessage(from: BotStack.alice, stream: "ops", "code certus")
        let marker = z.dm(from: BotStack.alice, "help")
        _ = reply(BotStack.alice, after: marker)
        Thread.sleep(forTimeInterval: 0.5)
        let botMessages = z.messages(after: before).filter { $0.senderEmail == ZulipEmulator.botEmail }
        XCTAssertTrue(botMessages.allSatisfy { BotStack.code(in: $0.content) == nil }, "\(botMessages.map(\.content))")
        let groupReplies = botMessages.filter { $0.participants.count > 2 }
        XCTAssertEqual(groupReplies.count, 1, "only the mention gets a hint: \(groupReplies.map(\.content))")
        XCTAssertTrue(groupReplies.first?.content.contains("direct message") ?? false)
        XCTAssertFalse(botMessages.contains { $0.type == "stream" })

        // The bot's own messages come back in its queue and are ignored: one reply per request.
        let requests = z.messages().filter { $0.senderEmail != ZulipEmulator.botEmail && $0.type == "private" && $0.participants.count == 2 }
        let replies = z.messages().filter { $0.senderEmail == ZulipEmulator.botEmail && $0.participants.count == 2 }
        XCTAssertEqual(replies.count, requests.count)

        // Audit lines: one per request (+ the group hint), never the code. Each follows its
        // reply (after the state file's fsyncs), so wait for the last.
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { BotStack.auditLines(bot).count >= requests.count + 1 })
        XCTAssertEqual(BotStack.auditLines(bot).count, requests.count + 1, "\(BotStack.auditLines(bot))")
        XCTAssertFalse(bot.stderr.contains(code), "a code appeared in the log")
        XCTAssertFalse(bot.stderr.contains(ZulipEmulator.botKey))
        XCTAssertFalse(bot.stderr.contains(BotStack.gatewayToken))

        // Registration used the right event types and narrow: DMs, user changes (for the
        // ACL's emails and to tell bots apart), group changes and reactions (issue 14), with
        // the users and groups as they are now.
        let register = z.requests().first { $0["path"] as? String == "/api/v1/register" }
        let form = register?["form"] as? [String: Any]
        XCTAssertEqual(form?["event_types"] as? String, #"["message","realm_user","user_group","reaction"]"#)
        XCTAssertEqual(form?["fetch_event_types"] as? String, #"["message","realm_user","realm_user_groups"]"#)
        XCTAssertEqual(form?["narrow"] as? String, #"[["is","dm"]]"#)
        XCTAssertEqual(form?["apply_markdown"] as? String, "false")

        // Metrics for the alert rules.
        let port = try XCTUnwrap(BotStack.metricsPort(bot))
        // The DM counter goes up just after each audit line.
        var metrics = ""
        _ = TestProcess.waitUntil(timeout: 5) {
            metrics = fetch("http://127.0.0.1:\(port)/metrics") ?? ""
            return metrics.contains("bot_dms_total{outcome=\"code\"} 3") && metrics.contains("bot_dms_total{outcome=\"not_available\"} 3")
        }
        for line in ["bot_leader 1", "bot_leader_epoch 1", "bot_dms_total{outcome=\"code\"} 3", "bot_dms_total{outcome=\"not_available\"} 3",
                     "bot_gateway_failovers_total 0", "bot_gateway_requests_total{instance=\"\(stack.gatewayURL)\",outcome=\"success\"}",
                     // Three codes, and Bob's `labels` (the gateway's GET /labels, issue 14).
                     "bot_gateway_attempts_total{instance=\"\(stack.gatewayURL)\"} 4", "bot_gateway_circuit_open{instance=\"\(stack.gatewayURL)\"} 0",
                     "# TYPE bot_gateway_circuit_open gauge"] {
            XCTAssertTrue(metrics.contains(line), "missing \(line) in\n\(metrics)")
        }
        XCTAssertTrue(metrics.contains("bot_zulip_last_success_timestamp_seconds 1"))
        XCTAssertTrue(metrics.contains("process_resident_memory_bytes"))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") {
            try metrics.write(toFile: stack.dir + "/metrics.txt", atomically: true, encoding: .utf8)
            let lint = TestProcess.run("/bin/sh", ["-c", "/usr/bin/promtool check metrics < '\(stack.dir)/metrics.txt'"])
            XCTAssertEqual(lint.status, 0, lint.stdout + lint.stderr)
        }
        let health = try XCTUnwrap(fetch("http://127.0.0.1:\(port)/healthz"))
        XCTAssertTrue(health.contains("\"role\":\"leader\""), health)
        XCTAssertEqual(TestProcess.run(BotStack.productsDirectory + "/totp-bot", ["--healthcheck", "http://127.0.0.1:\(port)/healthz"]).status, 0)
    }

    func testQueueExpiryRateLimitAndServerErrorsAreSurvived() throws {
        stack = try BotStack()
        let bot = try stack.startBot()
        let z = stack.zulip

        // The queue expires mid-run: the bot registers again and still answers.
        let expired = z.control("POST", "/expire-queues", [:])["expired"] as? [String] ?? []
        XCTAssertEqual(expired.count, 1)
        var m = z.dm(from: BotStack.alice, "code certus")
        XCTAssertNotNil(BotStack.code(in: try XCTUnwrap(reply(BotStack.alice, after: m))))
        XCTAssertTrue(BotStack.events(bot).contains("queue_lost"))
        XCTAssertEqual(BotStack.events(bot).filter { $0 == "queue_registered" }.count, 2)

        // Expired right before a DM: answered exactly once, through the new queue or the
        // catch-up, whichever sees it first (BotCatchUpTests forces the catch-up path).
        z.control("POST", "/expire-queues", [:])
        m = z.dm(from: BotStack.alice, "code github")
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: m).count, 1)
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m).count, 1, "answered exactly once")

        // 429 with Retry-After: the bot waits at least that long, then carries on.
        let seqBefore = (z.requests().last?["seq"] as? Int) ?? 0
        z.control("POST", "/rate-limit", ["count": 2, "retry_after": 0.7])
        m = z.dm(from: BotStack.alice, "code certus")
        XCTAssertNotNil(BotStack.code(in: try XCTUnwrap(reply(BotStack.alice, after: m, timeout: 15))))
        // Two calls may have drawn the 429s (the reply's POST and the next GET /events, say):
        // wait until each has been sent again before judging the gaps.
        let key = { (r: [String: Any]) in "\(r["method"] ?? "") \(r["path"] ?? "")" }
        var after: [[String: Any]] = []
        _ = TestProcess.waitUntil(timeout: 5) {
            after = z.requests().filter { ($0["seq"] as? Int ?? 0) > seqBefore }
            return after.filter { $0["status"] as? Int == 429 }.allSatisfy { hit in
                after.contains { ($0["seq"] as? Int ?? 0) > (hit["seq"] as? Int ?? 0) && key($0) == key(hit) }
            }
        }
        let limited = after.filter { $0["status"] as? Int == 429 }
        XCTAssertEqual(limited.count, 2)
        // Each call that got a 429 was not sent again before Retry-After had passed.
        for hit in limited {
            let seq = hit["seq"] as? Int ?? 0
            guard let retry = after.first(where: { ($0["seq"] as? Int ?? 0) > seq && key($0) == key(hit) }),
                let t0 = hit["time"] as? Double, let t1 = retry["time"] as? Double
            else { XCTFail("\(key(hit)) was not retried after its 429"); continue }
            XCTAssertGreaterThanOrEqual(t1 - t0, 0.6, "\(key(hit)) retried before Retry-After")
        }

        // Injected 502s (non-JSON bodies): exponential back-off, then service resumes.
        z.control("POST", "/fail", ["count": 3, "status": 502])
        m = z.dm(from: BotStack.alice, "code certus")
        XCTAssertNotNil(BotStack.code(in: try XCTUnwrap(reply(BotStack.alice, after: m, timeout: 15))))
        XCTAssertTrue(bot.logLines.contains { $0["event"] as? String == "zulip_retry" && ($0["error"] as? String ?? "").contains("502") })
        XCTAssertTrue(bot.process.isRunning)
    }

    func testGatewayFailoverAndAllGatewaysDown() throws {
        stack = try BotStack()
        let deadPort = try ReservedPort()
        defer { deadPort.close() }
        let dead = deadPort.port
        // The first URL is down: the code still comes, from the second.
        try stack.startBot(["GATEWAY_URLS": "http://127.0.0.1:\(dead),\(stack.gatewayURL)"])
        let z = stack.zulip
        var m = z.dm(from: BotStack.alice, "code certus")
        let text = try XCTUnwrap(reply(BotStack.alice, after: m))
        XCTAssertTrue(BotStack.oathtoolCodes().contains(BotStack.code(in: text) ?? "-"), text)
        let port = try XCTUnwrap(BotStack.metricsPort(stack.bots[0]))
        let metrics = try XCTUnwrap(fetch("http://127.0.0.1:\(port)/metrics"))
        XCTAssertTrue(metrics.contains("bot_gateway_failovers_total 1"), metrics)
        XCTAssertTrue(metrics.contains("bot_gateway_requests_total{instance=\"http://127.0.0.1:\(dead)\",outcome=\"failure\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("bot_gateway_attempts_total{instance=\"http://127.0.0.1:\(dead)\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("bot_gateway_circuit_open{instance=\"http://127.0.0.1:\(dead)\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("bot_gateway_circuit_open{instance=\"\(stack.gatewayURL)\"} 0"), metrics)

        // Every gateway down: a clear "try again" within 5 s, never silence.
        stack.gateway?.signal(SIGKILL)
        stack.gateway?.waitForExit(timeout: 5)
        let sent = Date()
        m = z.dm(from: BotStack.alice, "code certus")
        let down = try XCTUnwrap(reply(BotStack.alice, after: m, timeout: 8))
        let elapsed = Date().timeIntervalSince(sent)
        print("all gateways down: reply after \(Int(elapsed * 1000)) ms")
        XCTAssertLessThan(elapsed, 5)
        XCTAssertTrue(down.contains("try again"), down)
        XCTAssertNil(BotStack.code(in: down))
    }

    func testHangingGatewaysStillGetAClearReplyWithinFiveSeconds() throws {
        stack = try BotStack(gateway: false)
        let hang1 = try Blackhole()
        let hang2 = try Blackhole()
        // Production timeouts (1.5 s per attempt, 4 s overall), two gateways that never answer.
        try stack.startBot(["GATEWAY_URLS": "http://127.0.0.1:\(hang1.port),http://127.0.0.1:\(hang2.port)",
                            "BOT_GATEWAY_ATTEMPT_TIMEOUT_MS": "1500", "BOT_GATEWAY_DEADLINE_MS": "4000"])
        let sent = Date()
        let m = stack.zulip.dm(from: BotStack.alice, "code certus")
        let text = try XCTUnwrap(reply(BotStack.alice, after: m, timeout: 8))
        let elapsed = Date().timeIntervalSince(sent)
        print("hanging gateways: reply after \(Int(elapsed * 1000)) ms")
        XCTAssertLessThan(elapsed, 5)
        XCTAssertEqual(text, "The code service is unreachable right now. Please try again in a minute.")
    }

    func testTwoBotsGiveOneReplyAndStandbyTakesOverAfterKill() throws {
        stack = try BotStack()
        let leader = try stack.startBot()
        let standby = try stack.startBot(expectLeader: false)
        let z = stack.zulip
        XCTAssertFalse(BotStack.events(standby).contains("leader"))

        // Two bots, one reply per DM.
        for label in ["certus", "github"] {
            let m = z.dm(from: BotStack.alice, "code \(label)")
            XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: m).count, 1)
        }
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(z.botReplies(to: BotStack.alice).count, 2)
        let leaderRecord = try String(contentsOfFile: stack.dir + "/leader.lock", encoding: .utf8)
        XCTAssertTrue(leaderRecord.contains("\"pid\":\(leader.process.processIdentifier)"), leaderRecord)
        XCTAssertTrue(leaderRecord.contains("\"epoch\":1"), leaderRecord)

        // kill -9 the leader; DMs sent during the gap are answered exactly once. Zulip refuses
        // the standby's first registers until both are sent, so they can only come back
        // through its catch-up from the watermark.
        z.control("POST", "/fail", ["count": 1000, "status": 503, "method": "POST", "path": "/api/v1/register"])
        let killedAt = Date()
        leader.signal(SIGKILL)
        let gap1 = z.dm(from: BotStack.alice, "code certus")
        let gap2 = z.dm(from: BotStack.bob, "code github")
        XCTAssertNotNil(waitForLine(standby, "zulip_retry", timeout: 3) { $0["call"] as? String == "register" })
        z.control("POST", "/fail", ["count": 0, "status": 503])
        let first = z.waitForReplies(to: BotStack.alice, after: gap1, timeout: 5)
        let takeover = Date().timeIntervalSince(killedAt)
        print("bot takeover: \(Int(takeover * 1000)) ms")
        XCTAssertEqual(first.count, 1)
        XCTAssertLessThan(takeover, 2.0, "the standby must answer within 2 s of the kill")
        XCTAssertEqual(z.waitForReplies(to: BotStack.bob, after: gap2, timeout: 5).count, 1)
        let catchUp = try XCTUnwrap(waitForLine(standby, "catch_up"))
        XCTAssertEqual(catchUp["to_answer"] as? Int, 2, "\(catchUp)")
        for gap in [gap1, gap2] {
            XCTAssertNotNil(waitForLine(standby, "dm_received") { $0["message_id"] as? Int == gap && $0["caught_up"] as? Bool == true },
                            "gap DM \(gap) was not answered by the catch-up")
        }

        // A new DM after the takeover.
        let m = z.dm(from: BotStack.alice, "code github")
        XCTAssertNotNil(BotStack.code(in: z.waitForReplies(to: BotStack.alice, after: m, timeout: 2).first?.content ?? ""))
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: gap1).count, 2, "gap DM and new DM answered once each")
        XCTAssertEqual(z.botReplies(to: BotStack.bob, after: gap2).count, 1)
        let record = try String(contentsOfFile: stack.dir + "/leader.lock", encoding: .utf8)
        XCTAssertTrue(record.contains("\"epoch\":2") && record.contains("\"pid\":\(standby.process.processIdentifier)"), record)
        let port = try XCTUnwrap(BotStack.metricsPort(standby))
        XCTAssertTrue(try XCTUnwrap(fetch("http://127.0.0.1:\(port)/metrics")).contains("bot_leader_epoch 2"))
    }

    /// The standby starts before the leader has written any watermark (Zulip still failing), so
    /// its start-up read finds none; on takeover it must re-read the file the leader wrote and
    /// answer the DM sent in the gap, not skip it by starting from the newest message.
    func testStandbyStartedBeforeAnyWatermarkStillAnswersTheGap() throws {
        stack = try BotStack()
        let z = stack.zulip
        _ = z.control("POST", "/fail", ["count": 100_000, "status": 502])
        let leader = try stack.startBot(expectLeader: false)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { BotStack.events(leader).contains("leader") })
        let standby = try stack.startBot(expectLeader: false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stack.dir + "/watermark.json"), "no watermark yet")
        _ = z.control("POST", "/fail", ["count": 0, "status": 502])
        XCTAssertTrue(TestProcess.waitUntil(timeout: 10) { BotStack.events(leader).contains("watermark_initialised") })
        let first = z.dm(from: BotStack.alice, "code certus")
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: first).count, 1)
        leader.signal(SIGKILL)
        let gap = z.dm(from: BotStack.alice, "code github")
        let replies = z.waitForReplies(to: BotStack.alice, after: gap, timeout: 5)
        XCTAssertEqual(replies.count, 1, "the DM sent in the gap is answered: \(standby.stderr)")
        XCTAssertNotNil(BotStack.code(in: replies.first?.content ?? ""))
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: first).count, 2, "first DM and gap DM answered once each")
    }

    func testSIGTERMStopsEventsFinishesReplyDeletesQueueThenReleasesLock() throws {
        stack = try BotStack()
        // A gateway URL that accepts and never answers makes the reply slow (1 s attempt),
        // so SIGTERM lands while the reply is in flight.
        let blackhole = try Blackhole()
        let leader = try stack.startBot(["GATEWAY_URLS": "http://127.0.0.1:\(blackhole.port),\(stack.gatewayURL)"])
        let standby = try stack.startBot(expectLeader: false)
        let z = stack.zulip
        let m = z.dm(from: BotStack.alice, "code certus")
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { BotStack.events(leader).contains("dm_received") })
        leader.signal(SIGTERM)
        XCTAssertEqual(leader.waitForExit(timeout: 10), 0)
        let events = BotStack.events(leader)
        let order = ["shutdown_events_stopped", "shutdown_inflight_finished", "shutdown_queue_deleted", "shutdown_lock_released", "stopped"]
        let positions = order.map { events.firstIndex(of: $0) ?? -1 }
        XCTAssertFalse(positions.contains(-1), "\(events)")
        XCTAssertEqual(positions, positions.sorted(), "\(events)")
        // The in-flight reply was finished before the queue was deleted.
        let audit = try XCTUnwrap(events.firstIndex(of: "request"))
        XCTAssertLessThan(audit, positions[2])
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m).count, 1)
        let requests = z.requests()
        let send = try XCTUnwrap(requests.lastIndex { $0["method"] as? String == "POST" && $0["path"] as? String == "/api/v1/messages" })
        let delete = try XCTUnwrap(requests.firstIndex { $0["method"] as? String == "DELETE" && $0["path"] as? String == "/api/v1/events" })
        XCTAssertLessThan(send, delete)
        XCTAssertEqual(requests[delete]["status"] as? Int, 200)
        // The standby takes over once the lock is released and answers without duplicating.
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { BotStack.events(standby).contains("leader") })
        let m2 = z.dm(from: BotStack.alice, "code github")
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: m2, timeout: 8).count, 1)
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m).count, 2)
    }

    func testReplyIsEditedAfterTheCodeExpires() throws {
        stack = try BotStack()
        try stack.startBot()
        let z = stack.zulip
        let m = z.dm(from: BotStack.alice, "code fast")
        let first = try XCTUnwrap(z.waitForReplies(to: BotStack.alice, after: m).first)
        XCTAssertNotNil(BotStack.code(in: first.content))
        // Period 4 s: at most 4 s + the next window (when < 5 s remained, always here) = 8 s.
        XCTAssertTrue(TestProcess.waitUntil(timeout: 12) { z.botReplies(to: BotStack.alice, after: m).first?.edited == true })
        let edited = try XCTUnwrap(z.botReplies(to: BotStack.alice, after: m).first)
        XCTAssertTrue(edited.content.contains("expired"), edited.content)
        XCTAssertNil(BotStack.code(in: edited.content), "the edited reply still shows a code")
        XCTAssertTrue(first.content.contains("Next code `"), "fewer than 5 s remain with a 4 s period: \(first.content)")

        // The realm forbids edits: both replies' edits are refused, logged once, the bot carries on.
        z.control("POST", "/forbid-edits", ["forbid": true])
        let m2 = z.dm(from: BotStack.alice, "code fast")
        let m3 = z.dm(from: BotStack.alice, "code fast")
        let replies = z.waitForReplies(to: BotStack.alice, after: m2, count: 2)
        XCTAssertEqual(replies.count, 2, "one reply each to m2 (\(m2)) and m3 (\(m3))")
        let bot = stack.bots[0]
        let refused = { z.requests().filter { $0["method"] as? String == "PATCH" && $0["status"] as? Int == 400 } }
        XCTAssertTrue(TestProcess.waitUntil(timeout: 12) { refused().count >= 2 })
        XCTAssertEqual(Set(refused().compactMap { $0["path"] as? String }), Set(replies.map { "/api/v1/messages/\($0.id)" }))
        XCTAssertEqual(BotStack.events(bot).filter { $0 == "expiry_edit_refused" }.count, 1)
        XCTAssertTrue(z.botReplies(to: BotStack.alice, after: m2).allSatisfy { !$0.edited })
        let n = z.dm(from: BotStack.alice, "code certus")
        XCTAssertNotNil(BotStack.code(in: try XCTUnwrap(reply(BotStack.alice, after: n))))
    }

    /// The seconds in a reply are the gateway's: compared with `expires_at` from the gateway
    /// itself, and for a short period the next code's start and end as well.
    func testTheReplySaysExactlyHowLongTheCodeStaysValid() throws {
        stack = try BotStack()
        try stack.startBot()
        let z = stack.zulip
        for label in ["certus", "fast"] {
            var checked = false
            for _ in 0..<3 where !checked {
                let t0 = Int64(Date().timeIntervalSince1970.rounded(.down))
                let m = z.dm(from: BotStack.alice, "code \(label)")
                let text = try XCTUnwrap(reply(BotStack.alice, after: m))
                let t1 = Int64(Date().timeIntervalSince1970.rounded(.down))
                let body = try XCTUnwrap(fetch(stack.gatewayURL + "/code?label=\(label)&next=1", bearer: BotStack.gatewayToken))
                let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
                // The window may have rolled over between the reply and this request: try again.
                guard BotStack.code(in: text) == json["code"] as? String else { continue }
                let expiresAt = try XCTUnwrap(json["expires_at"] as? Int64)
                let seconds = try XCTUnwrap(Self.number(after: "valid for ", in: text), text)
                XCTAssertGreaterThanOrEqual(seconds, expiresAt - t1 - 1, text)
                XCTAssertLessThanOrEqual(seconds, expiresAt - t0, text)
                if seconds < 5 {
                    // Fewer than 5 s left (always for fast's 4 s period): the next code, when it starts and ends.
                    XCTAssertEqual(Self.number(after: "starts in ", in: text), seconds, text)
                    let nextCode = try XCTUnwrap(json["next_code"] as? String)
                    XCTAssertTrue(text.contains("Next code `\(nextCode)`"), text)
                    let until = try XCTUnwrap(json["next_expires_at"] as? Int64)
                    XCTAssertTrue(text.hasSuffix("valid until \(ReplyFormatter.utcTime(until)) UTC."), text)
                } else {
                    XCTAssertFalse(text.contains("Next code"), text)
                }
                checked = true
            }
            XCTAssertTrue(checked, "\(label): the window rolled over three times in a row")
        }
    }

    private static func number(after prefix: String, in text: String) -> Int64? {
        guard let range = text.range(of: prefix) else { return nil }
        return Int64(text[range.upperBound...].prefix { $0.isNumber })
    }

    /// BOT_USER_RATE_BURST / _PER_MINUTE: the third DM within the burst of two is refused with
    /// the wait, other users are not affected.
    func testPerUserRateLimit() throws {
        stack = try BotStack()
        let bot = try stack.startBot(["BOT_USER_RATE_BURST": "2", "BOT_USER_RATE_PER_MINUTE": "1"])
        let z = stack.zulip
        let ids = (0..<3).map { _ in z.dm(from: BotStack.alice, "code certus") }
        // After the first DM: a reply can land before the later DMs are posted (CI saw that), and
        // the refusal, needing no gateway call, can be sent before the codes.
        let replies = z.waitForReplies(to: BotStack.alice, after: ids[0], count: 3)
        XCTAssertEqual(replies.count, 3, "\(replies.map(\.content))")
        XCTAssertEqual(replies.compactMap { BotStack.code(in: $0.content) }.count, 2, "\(replies.map(\.content))")
        let refusals = replies.filter { $0.content.hasPrefix("Too many requests.") }
        XCTAssertEqual(refusals.count, 1, "\(replies.map(\.content))")
        let limited = try XCTUnwrap(refusals.first?.content)
        XCTAssertTrue(limited.hasPrefix("Too many requests. Please try again in "), limited)
        let wait = try XCTUnwrap(Self.number(after: "try again in ", in: limited))
        XCTAssertTrue((55...60).contains(wait), "one request a minute: \(limited)")
        let b = z.dm(from: BotStack.bob, "code github")
        XCTAssertNotNil(BotStack.code(in: try XCTUnwrap(reply(BotStack.bob, after: b))), "bob has a bucket of his own")
        XCTAssertNotNil(waitForLine(bot, "request", timeout: 5) { $0["component"] as? String == "audit" && $0["outcome"] as? String == "rate_limited" })
        XCTAssertEqual(BotStack.auditLines(bot).filter { $0["outcome"] as? String == "rate_limited" }.map { $0["message_id"] as? Int }, [ids[2]])
        let port = try XCTUnwrap(BotStack.metricsPort(bot))
        // Counted just after the audit line.
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { fetch("http://127.0.0.1:\(port)/metrics")?.contains(#"bot_dms_total{outcome="rate_limited"} 1"#) == true })
    }

    func testStandbyIsReadyAndFeedsTheWatchdogWhileWaitingForTheLock() throws {
        stack = try BotStack()
        // This test process holds the lock, so the bot must wait as a standby.
        let holder = try LeaderLock(path: stack.dir + "/leader.lock")
        XCTAssertNotNil(try holder.tryAcquire())
        let notify = try NotifySocket(path: stack.dir + "/notify.sock")
        let bot = try stack.startBot(["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"], expectLeader: false)
        let standbyMessages = notify.collect(for: 1.2)
        XCTAssertEqual(standbyMessages.first, "READY=1", "\(standbyMessages)")
        XCTAssertGreaterThanOrEqual(standbyMessages.filter { $0 == "WATCHDOG=1" }.count, 3, "\(standbyMessages)")
        XCTAssertFalse(BotStack.events(bot).contains("leader"))
        // Released: the bot leads (epoch 2 after ours) and its Zulip loop keeps pinging.
        holder.release()
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { BotStack.events(bot).contains("watermark_initialised") })
        let leaderMessages = notify.collect(for: 2.5)
        XCTAssertTrue(leaderMessages.contains { $0.hasPrefix("STATUS=leader (epoch 2)") }, "\(leaderMessages)")
        XCTAssertGreaterThanOrEqual(leaderMessages.filter { $0 == "WATCHDOG=1" }.count, 2, "\(leaderMessages)")
        let m = stack.zulip.dm(from: BotStack.alice, "code certus")
        XCTAssertNotNil(BotStack.code(in: reply(BotStack.alice, after: m) ?? ""))
    }

    func testWrongCredentialsExitThreeAndBadConfigExitTwo() throws {
        stack = try BotStack(gateway: false)
        let bot = try TestProcess(
            executable: BotStack.productsDirectory + "/totp-bot",
            environment: stack.botEnvironment(["ZULIP_API_KEY": "wrong-key-0000", "GATEWAY_URLS": "http://127.0.0.1:9"]),
            directory: stack.dir)
        XCTAssertEqual(bot.waitForExit(timeout: 10), 3)
        XCTAssertTrue(bot.stderr.contains("Zulip rejected the bot's credentials (check ZULIP_EMAIL / ZULIP_API_KEY)"), bot.stderr)
        XCTAssertFalse(bot.stderr.contains("wrong-key-0000"))

        let bad = TestProcess.run(BotStack.productsDirectory + "/totp-bot", ["--check-config"],
            environment: ["ZULIP_SITE": "x", "BOT_ACL": "nobody", "GATEWAY_URLS": "ftp://x", "GATEWAY_TOKEN": "secret-token-value"])
        XCTAssertEqual(bad.status, 2)
        for word in ["ZULIP_EMAIL", "ZULIP_API_KEY", "GATEWAY_URLS", "BOT_ACL"] { XCTAssertTrue(bad.stderr.contains(word), bad.stderr) }
        XCTAssertFalse(bad.stderr.contains("secret-token-value"))
        XCTAssertEqual(TestProcess.run(BotStack.productsDirectory + "/totp-bot", ["--bogus"]).status, 2)

        // An empty ACL starts, and says nobody gets codes.
        let rc = stack.dir + "/zuliprc"
        try "[api]\nemail=\(ZulipEmulator.botEmail)\nkey=\(ZulipEmulator.botKey)\nsite=\(stack.zulip.site)\n".write(toFile: rc, atomically: true, encoding: .utf8)
        let ok = TestProcess.run(BotStack.productsDirectory + "/totp-bot", ["--check-config", "--zuliprc", rc],
            environment: ["GATEWAY_URLS": "http://127.0.0.1:9", "GATEWAY_TOKEN": "t", "BOT_STATE_DIR": stack.dir])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stderr.contains("nobody will get a code"))

        let help = TestProcess.run(BotStack.productsDirectory + "/totp-bot", ["--help"])
        XCTAssertEqual(help.status, 0)
        for name in ["--zuliprc", "ZULIP_CONFIG", "ZULIP_SITE", "ZULIP_EMAIL", "ZULIP_API_KEY", "ZULIP_ORG_URL", "ZULIP_BOT_EMAIL", "ZULIP_BOT_TOKEN",
                     "GATEWAY_URLS", "GATEWAY_TOKEN", "GATEWAY_CA_FILE", "BOT_ACL", "BOT_ACL_FILE", "ALLOWED_SENDERS", "BOT_LOCK_FILE",
                     "BOT_STATE_DIR", "BOT_LISTEN", "BOT_CATCHUP_MAX_AGE", "BOT_EXPIRY_EDIT", "--healthcheck", "_FILE",
                     "ZULIP_ALLOW_INSECURE", "BOT_REPLY_DEADLINE_MS", "BOT_WATCHDOG_STALL_SECONDS", "BOT_USER_RATE_BURST",
                     "BOT_GATEWAY_ATTEMPT_TIMEOUT_MS", "BOT_BACKOFF_MAX_MS", "BOT_LOG_LEVEL", "BOT_POLICY", "BOT_POLICY_FILE", "approve <n>", "pending", "grants"] {
            XCTAssertTrue(help.stdout.contains(name), "--help does not mention \(name)")
        }
    }

}
