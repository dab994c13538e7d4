import Foundation
import XCTest
import TestSupport
@testable import Bot

/// The access workflow of issue 14 end to end: real `totp-bot` processes and a real gateway
/// against the test Zulip (groups, reactions and stream messages in the real server's shapes).
/// Every test ends with spec_check over every request the bots made (0 violations).
final class BotAccessTests: BotProcessTestCase {
    static let dave = "dave@example.com"
    static let erin = "erin@example.com"

    /// A stack with Dave and Erin too, group `ops` (Carol, Dave, Erin) approving, and a bot
    /// under `policy`.
    @discardableResult
    private func start(policy: String, acl: String = "\(BotStack.alice):*;\(BotStack.bob):*", ops: [String] = [BotStack.carol, dave, erin],
                       extra: [String: String] = [:]) throws -> TestProcess {
        stack = try BotStack()
        stack.ids[Self.dave] = stack.zulip.addUser(Self.dave, name: "Dave")
        stack.ids[Self.erin] = stack.zulip.addUser(Self.erin, name: "Erin")
        stack.zulip.createGroup("ops", members: ops)
        var env = ["BOT_POLICY": policy, "BOT_ACL": acl]
        for (k, v) in extra { env[k] = v }
        return try stack.startBot(env)
    }

    /// The bot's first message to `user` (1:1) after `after` that starts with `prefix`.
    private func message(to user: String, after: Int, startingWith prefix: String, timeout: TimeInterval = 10) -> ZulipEmulator.Message? {
        var found: ZulipEmulator.Message? = nil
        _ = TestProcess.waitUntil(timeout: timeout) {
            found = stack.zulip.botReplies(to: user, after: after).first { $0.content.hasPrefix(prefix) }
            return found != nil
        }
        return found
    }

    private func accessAudit(_ bot: TestProcess, _ action: String) -> [[String: Any]] {
        BotStack.auditLines(bot).filter { $0["event"] as? String == "access" && $0["action"] as? String == action }
    }

    func testApprovalByDMSendsTheCodeOnceTellsTheOthersAndNotifiesWithoutTheCode() throws {
        let bot = try start(policy: "certus: approvers=@ops notify=stream:security/codes")
        let z = stack.zulip
        z.createStream("security", subscribers: [BotStack.carol])
        let m = z.dm(from: BotStack.alice, "code certus deploy the @**all** hotfix")
        let waiting = try XCTUnwrap(reply(BotStack.alice, after: m))
        XCTAssertTrue(waiting.hasPrefix("Request #1 for `certus` is waiting for an approval from "), waiting)
        XCTAssertNil(BotStack.code(in: waiting))
        // Each approver is asked in a DM of their own, with the reason as inert code.
        var asks: [String: ZulipEmulator.Message] = [:]
        for approver in [BotStack.carol, Self.dave, Self.erin] {
            asks[approver] = try XCTUnwrap(message(to: approver, after: m, startingWith: "Request #1: "), approver)
        }
        let ask = try XCTUnwrap(asks[Self.dave]?.content)
        XCTAssertTrue(ask.contains("Alice|\(stack.ids[BotStack.alice]!)**") && ask.contains("(alice@example.com)"), ask)
        XCTAssertTrue(ask.contains("Reason: `deploy the @**all** hotfix`."), ask)
        XCTAssertTrue(ask.contains("`approve 1`") && ask.contains(":+1:"), ask)

        let vote = z.dm(from: Self.dave, "approve 1")
        XCTAssertEqual(message(to: Self.dave, after: vote, startingWith: "Approved")?.content, "Approved request #1: the code goes to @_**Alice|\(stack.ids[BotStack.alice]!)** now.")
        let code = try XCTUnwrap(message(to: BotStack.alice, after: m, startingWith: "Request #1, approved by @_**Dave|"))
        let digits = try XCTUnwrap(BotStack.code(in: code.content), code.content)
        XCTAssertTrue(BotStack.oathtoolCodes().contains(digits), "\(code.content) vs oathtool")
        for other in [BotStack.carol, Self.erin] {
            let notice = try XCTUnwrap(message(to: other, after: m, startingWith: "Request #1 ("), other)
            XCTAssertTrue(notice.content.contains("was approved by @_**Dave|"), notice.content)
        }
        // The notification names who, what, why and who approved; never a code.
        var notification: ZulipEmulator.Message? = nil
        XCTAssertTrue(TestProcess.waitUntil(timeout: 10) {
            notification = z.messages(after: m).first { $0.type == "stream" && $0.content.hasPrefix("Code handed out (request #1)") }
            return notification != nil
        })
        let text = try XCTUnwrap(notification?.content)
        XCTAssertTrue(text.contains("`certus`") && text.contains("Alice|") && text.contains("alice@example.com"), text)
        XCTAssertTrue(text.contains("Reason: `deploy the @**all** hotfix`.") && text.contains("Approved by @_**Dave|"), text)
        for c in BotStack.codesAroundNow() { XCTAssertFalse(text.contains(c), "a code in the notification: \(text)") }

        // A late vote is told it is decided; the code went exactly once.
        let late = z.dm(from: BotStack.carol, "approve 1")
        XCTAssertEqual(reply(BotStack.carol, after: late)?.hasPrefix("Request #1 is already approved by"), true)
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m).count, 2, "the waiting reply and the code")
        XCTAssertEqual(z.botReplies(to: Self.dave, after: m).count, 2, "the ask and the reply to approve")
        for action in ["request", "approval", "approved", "code", "notification"] {
            XCTAssertEqual(accessAudit(bot, action).count, 1, action)
        }
        XCTAssertEqual(accessAudit(bot, "request").first?["reason"] as? String, "deploy the @**all** hotfix")
        XCTAssertFalse(bot.stderr.contains(digits), "a code in the log")
        let port = try XCTUnwrap(BotStack.metricsPort(bot))
        let metrics = fetch("http://127.0.0.1:\(port)/metrics") ?? ""
        XCTAssertTrue(metrics.contains("bot_access_pending_requests 0") && metrics.contains("bot_access_outbox_unsent 0"), metrics)
    }

    func testDenialByDMOrReactionTellsTheRequesterWhyAndSendsNoCode() throws {
        let bot = try start(policy: "certus: approvers=@ops approvals=2")
        let z = stack.zulip
        let m = z.dm(from: BotStack.alice, "code certus")
        let ask = try XCTUnwrap(message(to: BotStack.carol, after: m, startingWith: "Request #1: "))
        XCTAssertNotNil(message(to: Self.dave, after: m, startingWith: "Request #1: "))
        let vote = z.dm(from: Self.dave, "deny 1 not during the freeze")
        XCTAssertEqual(reply(Self.dave, after: vote), "Denied request #1; @_**Alice|\(stack.ids[BotStack.alice]!)** is told.")
        let denied = try XCTUnwrap(message(to: BotStack.alice, after: m, startingWith: "Request #1 was denied"))
        XCTAssertEqual(denied.content, "Request #1 was denied by @_**Dave|\(stack.ids[Self.dave]!)**: `not during the freeze`.")
        XCTAssertNotNil(message(to: BotStack.carol, after: ask.id, startingWith: "Request #1 ("))
        // A thumbs up after the denial changes nothing.
        z.react(from: BotStack.carol, to: ask.id)

        // By reaction: a thumbs up counts, taking it back withdraws it, a thumbs down denies.
        let again = z.dm(from: BotStack.alice, "code certus second try")
        let ask2 = try XCTUnwrap(message(to: Self.erin, after: again, startingWith: "Request #2: "))
        let ask2Carol = try XCTUnwrap(message(to: BotStack.carol, after: again, startingWith: "Request #2: "))
        z.react(from: BotStack.carol, to: ask2Carol.id)
        XCTAssertNotNil(waitForLine(bot, "access") { $0["action"] as? String == "approval" && $0["request"] as? Int == 2 })
        z.react(from: BotStack.carol, to: ask2Carol.id, remove: true)
        XCTAssertNotNil(waitForLine(bot, "access") { $0["action"] as? String == "approval_withdrawn" && $0["request"] as? Int == 2 })
        z.react(from: Self.erin, to: ask2.id, "-1")
        let denied2 = try XCTUnwrap(message(to: BotStack.alice, after: again, startingWith: "Request #2 was denied"))
        XCTAssertEqual(denied2.content, "Request #2 was denied by @_**Erin|\(stack.ids[Self.erin]!)**.")
        Thread.sleep(forTimeInterval: 1)
        XCTAssertFalse(z.botReplies(to: BotStack.alice, after: m).contains { BotStack.code(in: $0.content) != nil }, "a code after a denial")
        XCTAssertEqual(accessAudit(bot, "denial").count, 2)
    }

    func testAnUnansweredRequestExpires() throws {
        let bot = try start(policy: "certus: approvers=@ops timeout=10s")
        let z = stack.zulip
        let m = z.dm(from: BotStack.alice, "code certus")
        XCTAssertNotNil(message(to: Self.erin, after: m, startingWith: "Request #1: "))
        let expired = try XCTUnwrap(message(to: BotStack.alice, after: m, startingWith: "Request #1 expired", timeout: 20))
        XCTAssertTrue(expired.content.contains("Send `code certus [reason]` to ask again."), expired.content)
        XCTAssertTrue(message(to: Self.erin, after: m, startingWith: "Request #1 (")?.content.contains("expired unanswered") ?? false)
        let late = z.dm(from: Self.erin, "approve 1")
        XCTAssertEqual(reply(Self.erin, after: late), "Request #1 is already over: it expired.")
        XCTAssertEqual(accessAudit(bot, "expiry").count, 1)
        XCTAssertFalse(z.botReplies(to: BotStack.alice, after: m).contains { BotStack.code(in: $0.content) != nil })
    }

    /// approvals=2: two distinct approvers, never the requester (who is in the group and is
    /// not even asked).
    func testTwoPersonRuleAndSelfApprovalIsRefused() throws {
        let bot = try start(policy: "certus: approvers=@ops approvals=2 reason=required", ops: [BotStack.alice, BotStack.carol, Self.dave])
        let z = stack.zulip
        let bare = z.dm(from: BotStack.alice, "code certus")
        XCTAssertEqual(reply(BotStack.alice, after: bare), "A code for `certus` needs a reason: send `code certus <why you need it>`.")
        let m = z.dm(from: BotStack.alice, "code certus rotate keys")
        XCTAssertTrue(reply(BotStack.alice, after: m)?.contains("waiting for 2 approvals from @_**Carol|") ?? false)
        XCTAssertNotNil(message(to: Self.dave, after: m, startingWith: "Request #1: "))
        XCTAssertNotNil(message(to: BotStack.carol, after: m, startingWith: "Request #1: "))
        let own = z.dm(from: BotStack.alice, "approve 1")
        XCTAssertEqual(reply(BotStack.alice, after: own), "You cannot approve or deny your own request: another approver has to.")
        let first = z.dm(from: BotStack.carol, "approve")
        XCTAssertEqual(reply(BotStack.carol, after: first), "Your approval of request #1 is recorded; 1 more approval is needed.")
        let twice = z.dm(from: BotStack.carol, "approve 1")
        XCTAssertEqual(reply(BotStack.carol, after: twice), "You approved request #1 already.")
        let outsider = z.dm(from: BotStack.bob, "approve 1")
        XCTAssertEqual(reply(BotStack.bob, after: outsider), "You are not an approver of request #1.")
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertFalse(z.botReplies(to: BotStack.alice, after: m).contains { BotStack.code(in: $0.content) != nil }, "a code after one approval")
        let pending = z.dm(from: Self.dave, "pending")
        XCTAssertTrue(reply(Self.dave, after: pending)?.contains("#1: @_**Alice|") ?? false)
        let second = z.dm(from: Self.dave, "approve 1")
        XCTAssertEqual(reply(Self.dave, after: second), "Approved request #1: the code goes to @_**Alice|\(stack.ids[BotStack.alice]!)** now.")
        let code = try XCTUnwrap(message(to: BotStack.alice, after: m, startingWith: "Request #1, approved by @_**Carol|"))
        XCTAssertTrue(code.content.contains("and @_**Dave|"), code.content)
        XCTAssertNotNil(BotStack.code(in: code.content))
        XCTAssertEqual(accessAudit(bot, "refused").first?["note"] as? String, "self-approval refused")
    }

    /// grant=: codes without a new approval (each announced) until the grant ends.
    func testAGrantCoversLaterCodesUntilItEnds() throws {
        let bot = try start(policy: "certus: approvers=@ops grant=12s notify=dm:@ops")
        let z = stack.zulip
        let m = z.dm(from: BotStack.alice, "code certus incident 42")
        XCTAssertNotNil(message(to: BotStack.carol, after: m, startingWith: "Request #1: "))
        let vote = z.dm(from: BotStack.carol, "approve 1")
        XCTAssertTrue(reply(BotStack.carol, after: vote)?.contains("gets codes for `certus` without asking again") ?? false)
        XCTAssertNotNil(message(to: BotStack.alice, after: m, startingWith: "Request #1, approved by"))
        // Within the grant: the code at once, as the reply.
        let again = z.dm(from: BotStack.alice, "code certus still on it")
        let direct = try XCTUnwrap(reply(BotStack.alice, after: again))
        XCTAssertNotNil(BotStack.code(in: direct), direct)
        let grants = z.dm(from: BotStack.alice, "grants")
        XCTAssertTrue(reply(BotStack.alice, after: grants)?.contains("- `certus` until ") ?? false)
        XCTAssertNotNil(waitForLine(bot, "access") { $0["action"] as? String == "grant_use" })
        // Both codes announced to the group in one group DM each, without the codes.
        let group = Set([BotStack.carol, Self.dave, Self.erin, ZulipEmulator.botEmail])
        var notes: [ZulipEmulator.Message] = []
        XCTAssertTrue(TestProcess.waitUntil(timeout: 10) {
            notes = z.messages(after: m).filter { Set($0.participants) == group && $0.content.hasPrefix("Code handed out") }
            return notes.count == 2
        }, "\(notes.map(\.content))")
        XCTAssertTrue(notes[1].content.contains("Under the grant of request #1"), notes[1].content)
        for note in notes { for c in BotStack.codesAroundNow() { XCTAssertFalse(note.content.contains(c), note.content) } }
        // The grant ends: the next code needs an approval again.
        XCTAssertNotNil(waitForLine(bot, "access", timeout: 20) { $0["action"] as? String == "grant_end" })
        let after = z.dm(from: BotStack.alice, "code certus one more")
        XCTAssertTrue(reply(BotStack.alice, after: after)?.hasPrefix("Request #3 for `certus` is waiting") ?? false)
    }

    /// ACL and approvers by group: being added gives access at once, being removed (or
    /// deactivated) takes it away at once, pending requests included.
    func testGroupChangesTakeEffectAtOnce() throws {
        let bot = try start(policy: "certus: approvers=@ops", acl: "@devs:certus", ops: [BotStack.carol])
        let z = stack.zulip
        z.createGroup("devs", members: [BotStack.bob])
        var m = z.dm(from: BotStack.alice, "code certus")
        XCTAssertEqual(reply(BotStack.alice, after: m), ReplyFormatter.notAvailable(label: "certus"))
        z.changeGroup("devs", add: [BotStack.alice])
        m = z.dm(from: BotStack.alice, "code certus")
        XCTAssertTrue(reply(BotStack.alice, after: m)?.hasPrefix("Request #1") ?? false)
        XCTAssertNotNil(message(to: BotStack.carol, after: m, startingWith: "Request #1: "))
        z.changeGroup("devs", remove: [BotStack.alice])
        let cancelled = try XCTUnwrap(message(to: BotStack.alice, after: m, startingWith: "Request #1 was cancelled"))
        XCTAssertEqual(cancelled.content, "Request #1 was cancelled: you may no longer request `certus`.")
        XCTAssertNotNil(message(to: BotStack.carol, after: m, startingWith: "Request #1 ("))
        m = z.dm(from: BotStack.alice, "code certus")
        XCTAssertEqual(reply(BotStack.alice, after: m), ReplyFormatter.notAvailable(label: "certus"))

        // An approver out of the group may not approve; one added may.
        m = z.dm(from: BotStack.bob, "code certus")
        XCTAssertNotNil(message(to: BotStack.carol, after: m, startingWith: "Request #2: "))
        // The queue delivers the change before Carol's DM: no wait needed.
        z.changeGroup("ops", add: [Self.dave], remove: [BotStack.carol])
        let out = z.dm(from: BotStack.carol, "approve 2")
        XCTAssertEqual(reply(BotStack.carol, after: out), "You are not an approver of request #2.")
        // A deactivated requester gets nothing: the request is cancelled, no message goes to them.
        z.setActive(BotStack.bob, false)
        XCTAssertNotNil(waitForLine(bot, "access") { $0["action"] as? String == "cancel" && $0["request"] as? Int == 2 })
        let late = z.dm(from: Self.dave, "approve 2")
        XCTAssertEqual(reply(Self.dave, after: late), "Request #2 is already over: it was cancelled.")
        Thread.sleep(forTimeInterval: 1)
        XCTAssertTrue(z.botReplies(to: BotStack.bob, after: m).allSatisfy { !$0.content.hasPrefix("Request #2 was cancelled") })
        XCTAssertFalse(z.botReplies(to: BotStack.bob, after: m).contains { BotStack.code(in: $0.content) != nil })
    }

    /// RFC 6238 section 5.2: the second person asking within one step gets the next code.
    func testReuseGuardGivesTheSecondPersonTheNextCode() throws {
        try start(policy: "")
        let z = stack.zulip
        // Start with at least 12 s left in the 30 s step, so both requests fall in it.
        let wait = 30 - Int(Date().timeIntervalSince1970) % 30
        if wait < 12 { Thread.sleep(forTimeInterval: Double(wait) + 0.2) }
        let step = Int(Date().timeIntervalSince1970) / 30
        let a = z.dm(from: BotStack.alice, "code github")
        let first = try XCTUnwrap(reply(BotStack.alice, after: a))
        let b = z.dm(from: BotStack.bob, "code github")
        let second = try XCTUnwrap(reply(BotStack.bob, after: b))
        try XCTSkipIf(Int(Date().timeIntervalSince1970) / 30 != step, "the step changed under a loaded machine; nothing to judge")
        let current = TestProcess.run("/usr/bin/oathtool", ["--totp", "-b", "-s", "30s", "-N", "@\(step * 30)", BotStack.seed]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let next = TestProcess.run("/usr/bin/oathtool", ["--totp", "-b", "-s", "30s", "-N", "@\(step * 30 + 30)", BotStack.seed]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(BotStack.code(in: first), current)
        XCTAssertEqual(BotStack.code(in: second), next, second)
        XCTAssertTrue(second.contains("already handed to someone else") && second.contains("starts in"), second)
        // The same person again gets the same code, no warning.
        let a2 = z.dm(from: BotStack.alice, "code github")
        let again = try XCTUnwrap(reply(BotStack.alice, after: a2))
        if Int(Date().timeIntervalSince1970) / 30 == step {
            XCTAssertEqual(BotStack.code(in: again), current)
            XCTAssertFalse(again.contains("someone else"), again)
        }
    }

    /// kill -9 between an approval and the code: the successor sends it, once. Then a leader
    /// that died after its POST but before recording it (its item left `sending`): the next
    /// one finds the message by its marker and sends nothing twice.
    func testALeaderKilledMidApprovalLeavesTheCodeToItsSuccessorOnce() throws {
        let leader = try start(policy: "certus: approvers=@ops")
        let z = stack.zulip
        let standby = try stack.startBot(["BOT_POLICY": "certus: approvers=@ops", "BOT_ACL": "\(BotStack.alice):*"], expectLeader: false)
        let m = z.dm(from: BotStack.alice, "code certus")
        XCTAssertNotNil(message(to: BotStack.carol, after: m, startingWith: "Request #1: "))
        // The gateway stops answering: the approved code cannot be fetched.
        stack.gateway?.signal(SIGSTOP)
        let vote = z.dm(from: BotStack.carol, "approve 1")
        XCTAssertNotNil(reply(BotStack.carol, after: vote))
        XCTAssertNotNil(waitForLine(leader, "access") { $0["action"] as? String == "approved" })
        leader.signal(SIGKILL)
        leader.waitForExit(timeout: 5)
        stack.gateway?.signal(SIGCONT)
        XCTAssertTrue(z.botReplies(to: BotStack.alice, after: m).allSatisfy { !$0.content.hasPrefix("Request #1, approved by") },
                      "the code went out before the kill")
        let code = try XCTUnwrap(message(to: BotStack.alice, after: m, startingWith: "Request #1, approved by", timeout: 15))
        XCTAssertNotNil(BotStack.code(in: code.content))
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m).filter { $0.content.hasPrefix("Request #1, approved by") }.count, 1)

        // The successor dies too; its state is made to say the code's POST was in doubt.
        XCTAssertNotNil(waitForLine(standby, "access") { $0["action"] as? String == "code" })
        standby.signal(SIGKILL)
        standby.waitForExit(timeout: 5)
        let path = stack.dir + "/watermark.json"
        var state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var access = try XCTUnwrap(state["access"] as? [String: Any])
        var outbox = access["outbox"] as? [[String: Any]] ?? []
        outbox.removeAll { $0["key"] as? String == "r1-code" }
        outbox.append(["key": "r1-code", "role": "code", "request": 1, "users": [stack.ids[BotStack.alice]!], "marker": "Request #1, approved by ",
                       "status": "sending", "created_at": Date().timeIntervalSince1970, "attempts": 1])
        access["outbox"] = outbox
        state["access"] = access
        try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: path))
        let third = try stack.startBot(["BOT_POLICY": "certus: approvers=@ops", "BOT_ACL": "\(BotStack.alice):*"])
        XCTAssertNotNil(waitForLine(third, "access_send_found") { $0["key"] as? String == "r1-code" })
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: m).filter { $0.content.hasPrefix("Request #1, approved by") }.count, 1,
                       "sent twice")
        XCTAssertEqual(BotStack.lines(third, "access_send_retry").count, 0)
    }

    func testLabelsListsTheGatewaysLabelsWithTheirPolicies() throws {
        try start(policy: "certus: approvers=@ops approvals=2\n*: reason=required\nfast:", acl: "\(BotStack.alice):*;\(BotStack.bob):github,nosuch")
        let z = stack.zulip
        var m = z.dm(from: BotStack.alice, "labels")
        XCTAssertEqual(reply(BotStack.alice, after: m),
                       "You may request: `certus` (needs 2 approvals), `fast`, `github` (needs a reason). Send `code <label> [reason]`.")
        m = z.dm(from: BotStack.bob, "labels")
        XCTAssertEqual(reply(BotStack.bob, after: m), "You may request: `github` (needs a reason). Send `code <label> [reason]`.",
                       "only what the gateway serves")
        m = z.dm(from: BotStack.carol, "labels")
        XCTAssertEqual(reply(BotStack.carol, after: m), ReplyFormatter.labels(nil))
    }

    /// Policy mistakes name their line, and --check-config finds them (exit 2).
    func testCheckConfigNamesThePolicyLine() throws {
        let dir = NSTemporaryDirectory() + "policy-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/policy"
        try "# access\nprod: approvers=@ops approvals=2\nstaging: approvers=carol@example.com approvals=2\ndev: grant=5m\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let env = ["ZULIP_SITE": "http://127.0.0.1:1", "ZULIP_EMAIL": "bot@example.com", "ZULIP_API_KEY": "k", "GATEWAY_URLS": "http://127.0.0.1:1",
                   "GATEWAY_TOKEN": "t", "BOT_ACL": "alice@example.com:*", "BOT_POLICY_FILE": file, "BOT_STATE_DIR": dir]
        let bad = TestProcess.run(BotStack.productsDirectory + "/totp-bot", ["--check-config"], environment: env)
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("configuration has 2 problem(s)"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("BOT_POLICY_FILE (\(file)):3: policy for 'staging': approvals=2 but only 1 approver(s) listed"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("BOT_POLICY_FILE (\(file)):4: policy for 'dev': grant= needs approvers="), bad.stderr)
        try "prod: approvers=@ops approvals=2\n".write(toFile: file, atomically: true, encoding: .utf8)
        let good = TestProcess.run(BotStack.productsDirectory + "/totp-bot", ["--check-config"], environment: env)
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertTrue(good.stdout.contains("1 access policies"), good.stdout)
    }

    /// A server that gives the bot no groups: a configuration naming groups cannot work, and
    /// the bot says so and exits 2; one without groups runs.
    func testNoGroupsFromTheServerRefusesConfigurationsNamingGroups() throws {
        stack = try BotStack(zulipArgs: ["--no-user-groups"])
        let bot = try TestProcess(executable: BotStack.productsDirectory + "/totp-bot", arguments: [],
                                  environment: stack.botEnvironment(["BOT_POLICY": "certus: approvers=@ops"]), directory: stack.dir)
        XCTAssertEqual(bot.waitForExit(timeout: 15), 2)
        XCTAssertTrue(bot.stderr.contains("gave the bot no user groups"), bot.stderr)
        let plain = try stack.startBot(["BOT_POLICY": "certus: approvers=\(BotStack.carol)"])
        XCTAssertNotNil(waitForLine(plain, "user_groups_unavailable"))
        let m = stack.zulip.dm(from: BotStack.alice, "code certus")
        XCTAssertTrue(reply(BotStack.alice, after: m)?.hasPrefix("Request #1") ?? false)
    }
}
