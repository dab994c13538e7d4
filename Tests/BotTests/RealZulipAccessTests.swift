import Foundation
import XCTest
import TestSupport

/// The access workflow (issue 14) end to end against a real Zulip Server 10.0: the owner
/// creates the approvers' user groups and changes them through the REST API as an
/// administrator would, creates the notification channel; the approvers vote by DM and with
/// reactions from their own accounts. Real `totp-bot` processes and a real gateway, through the
/// recording proxy; skipped unless REAL_ZULIP_RC_DIR is set (see `RealZulipTestCase`).
final class RealZulipAccessTests: RealZulipTestCase {
    /// Names of this test's own: groups cannot be deleted, and names stay taken.
    private let tag = String(UUID().uuidString.prefix(8)).lowercased()
    private var groups: [Int] = []
    private var channels: [Int] = []

    override func tearDown() {
        for id in groups { zulip?.deactivateGroup(id) }
        for id in channels { zulip?.archiveChannel(id) }
        super.tearDown()
    }

    private func group(_ name: String, _ members: [RealZulip.Account]) throws -> Int {
        let id = try zulip.createGroup(name, members: members)
        groups.append(id)
        return id
    }

    private func startBot(policy: String) throws -> TestProcess {
        try stack.startBot(["BOT_ACL": "\(zulip.alice.email):*;\(zulip.bob.email):*", "BOT_POLICY": policy])
    }

    private func mention(_ account: RealZulip.Account, _ name: String) -> String { "@_**\(name)|\(account.id)**" }

    /// A reason required, the two-person rule with the requester in the approvers' group (not
    /// asked, and refused when she tries), one vote by reaction and one by DM, the code once,
    /// the notification in the owner's channel without the code.
    func testApprovalTwoPersonRuleSelfApprovalReactionsAndNotification() throws {
        let (alice, bob, owner, me) = (zulip.alice, zulip.bob, zulip.owner, zulip.bot)
        try group("ops-\(tag)", [alice, bob, owner])
        channels.append(try zulip.createChannel("security-\(tag)"))
        let bot = try startBot(policy: "certus: approvers=@ops-\(tag) approvals=2 reason=required notify=stream:security-\(tag)/codes")

        let bare = try zulip.dm(from: alice, to: [me], "code certus")
        XCTAssertEqual(zulip.waitForReplies(to: alice, after: bare).first?.content,
                       "A code for `certus` needs a reason: send `code certus <why you need it>`.")
        let m = try zulip.dm(from: alice, to: [me], "code certus deploy the hotfix")
        let waiting = try XCTUnwrap(zulip.waitForReplies(to: alice, after: m).first?.content)
        XCTAssertTrue(waiting.hasPrefix("Request #1 for `certus` is waiting for 2 approvals from "), waiting)
        let bobsAsk = try XCTUnwrap(zulip.botMessage(to: bob, after: m, startingWith: "Request #1: "))
        XCTAssertTrue(bobsAsk.content.contains("Reason: `deploy the hotfix`."), bobsAsk.content)
        XCTAssertNotNil(zulip.botMessage(to: owner, after: m, startingWith: "Request #1: "))
        XCTAssertTrue(zulip.botReplies(to: alice, after: m).allSatisfy { !$0.content.hasPrefix("Request #1: ") }, "the requester was asked")

        let own = try zulip.dm(from: alice, to: [me], "approve 1")
        XCTAssertEqual(zulip.botMessage(to: alice, after: own, startingWith: "You cannot")?.content,
                       "You cannot approve or deny your own request: another approver has to.")
        // Bob's thumbs up from his own account, then the owner's DM: two approvers.
        try zulip.react(bob, to: bobsAsk.id, "+1")
        XCTAssertTrue(TestProcess.waitUntil(timeout: 10) { BotStack.lines(bot, "access").contains { $0["action"] as? String == "approval" } },
                      "the reaction was not counted")
        let vote = try zulip.dm(from: owner, to: [me], "approve 1")
        XCTAssertEqual(zulip.botMessage(to: owner, after: vote, startingWith: "Approved")?.content,
                       "Approved request #1: the code goes to \(mention(alice, "Alice")) now.")
        let code = try XCTUnwrap(zulip.botMessage(to: alice, after: m, startingWith: "Request #1, approved by "))
        let digits = try XCTUnwrap(BotStack.code(in: code.content), code.content)
        XCTAssertTrue(BotStack.oathtoolCodes().contains(digits), "\(code.content) vs oathtool")
        XCTAssertTrue(code.content.contains(mention(bob, "Bob")) && code.content.contains(mention(owner, "Owner")), code.content)
        XCTAssertNotNil(zulip.botMessage(to: bob, after: m, startingWith: "Request #1 ("), "Bob voted by reaction: he is told")

        // The owner's channel: who, what, why, who approved; never the code.
        var notification: RealZulip.Message? = nil
        XCTAssertTrue(TestProcess.waitUntil(timeout: 15) {
            notification = (try? zulip.messages(as: owner, after: m))?.first { $0.type == "stream" && $0.content.hasPrefix("Code handed out (request #1)") }
            if notification != nil { return true }
            usleep(200_000)
            return false
        }, "no notification in security-\(tag)")
        let text = try XCTUnwrap(notification?.content)
        XCTAssertTrue(text.contains("`certus`") && text.contains(mention(alice, "Alice")) && text.contains("Reason: `deploy the hotfix`."), text)
        for c in BotStack.codesAroundNow() { XCTAssertFalse(text.contains(c), "a code in the notification: \(text)") }
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertEqual(zulip.botReplies(to: alice, after: m).filter { $0.content.hasPrefix("Request #1, approved by") }.count, 1)
        XCTAssertFalse(bot.stderr.contains(digits), "a code in the log")
    }

    /// A thumbs down denies; an unanswered request expires; an approver taken out of the group
    /// may not approve until put back; a grant covers codes until it ends.
    func testDenialExpiryGroupChangesAndAGrant() throws {
        let (alice, bob, me) = (zulip.alice, zulip.bob, zulip.bot)
        let ops = try group("ops-\(tag)", [bob])
        let bot = try startBot(policy: "certus: approvers=@ops-\(tag) timeout=15s; fast: approvers=@ops-\(tag) grant=10s")

        var m = try zulip.dm(from: alice, to: [me], "code certus first")
        let ask = try XCTUnwrap(zulip.botMessage(to: bob, after: m, startingWith: "Request #1: "))
        try zulip.react(bob, to: ask.id, "-1")
        XCTAssertEqual(zulip.botMessage(to: alice, after: m, startingWith: "Request #1 was denied")?.content,
                       "Request #1 was denied by \(mention(bob, "Bob")).")

        m = try zulip.dm(from: alice, to: [me], "code certus second")
        XCTAssertNotNil(zulip.botMessage(to: bob, after: m, startingWith: "Request #2: "))
        XCTAssertNotNil(zulip.botMessage(to: alice, after: m, startingWith: "Request #2 expired", timeout: 35))

        m = try zulip.dm(from: alice, to: [me], "code fast third")
        XCTAssertNotNil(zulip.botMessage(to: bob, after: m, startingWith: "Request #3: "))
        try zulip.changeGroup(ops, remove: [bob])
        var vote = try zulip.dm(from: bob, to: [me], "approve 3")
        XCTAssertEqual(zulip.botMessage(to: bob, after: vote, startingWith: "You are not")?.content, "You are not an approver of request #3.")
        try zulip.changeGroup(ops, add: [bob])
        vote = try zulip.dm(from: bob, to: [me], "approve 3")
        XCTAssertNotNil(zulip.botMessage(to: bob, after: vote, startingWith: "Approved request #3"))
        XCTAssertNotNil(zulip.botMessage(to: alice, after: m, startingWith: "Request #3, approved by "))
        // Within the grant: a code at once.
        m = try zulip.dm(from: alice, to: [me], "code fast fourth")
        let direct = try XCTUnwrap(zulip.waitForReplies(to: alice, after: m).first?.content)
        XCTAssertNotNil(BotStack.code(in: direct), direct)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 25) { BotStack.lines(bot, "access").contains { $0["action"] as? String == "grant_end" } },
                      "the grant did not end")
        m = try zulip.dm(from: alice, to: [me], "code fast fifth")
        XCTAssertTrue(zulip.waitForReplies(to: alice, after: m).first?.content.hasPrefix("Request #5 for `fast` is waiting") ?? false)
        for action in ["request", "denial", "expiry", "approved", "grant_start", "grant_use", "grant_end", "code"] {
            XCTAssertFalse(BotStack.lines(bot, "access").filter { $0["action"] as? String == action }.isEmpty, "no \(action) audit line")
        }
    }

    /// RFC 6238 section 5.2 on the real server; then kill -9 of the leader between an approval
    /// and the code: its successor sends the code, once.
    func testReuseGuardAndALeaderKilledMidApproval() throws {
        let (alice, bob, me) = (zulip.alice, zulip.bob, zulip.bot)
        try group("ops-\(tag)", [bob])
        let policy = "certus: approvers=@ops-\(tag)"
        let leader = try startBot(policy: policy)
        let standby = try stack.startBot(["BOT_ACL": "\(alice.email):*;\(bob.email):*", "BOT_POLICY": policy], expectLeader: false)

        // Both ask for github (no policy) within one 30 s step.
        let wait = 30 - Int(Date().timeIntervalSince1970) % 30
        if wait < 15 { Thread.sleep(forTimeInterval: Double(wait) + 0.2) }
        let step = Int(Date().timeIntervalSince1970) / 30
        var m = try zulip.dm(from: alice, to: [me], "code github")
        let first = try XCTUnwrap(zulip.waitForReplies(to: alice, after: m).first?.content)
        m = try zulip.dm(from: bob, to: [me], "code github")
        let second = try XCTUnwrap(zulip.waitForReplies(to: bob, after: m).first?.content)
        if Int(Date().timeIntervalSince1970) / 30 == step {
            let next = TestProcess.run("/usr/bin/oathtool", ["--totp", "-b", "-s", "30s", "-N", "@\(step * 30 + 30)", BotStack.seed]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertNotEqual(BotStack.code(in: first), BotStack.code(in: second))
            XCTAssertEqual(BotStack.code(in: second), next, second)
            XCTAssertTrue(second.contains("already handed to someone else"), second)
        }

        m = try zulip.dm(from: alice, to: [me], "code certus")
        XCTAssertNotNil(zulip.botMessage(to: bob, after: m, startingWith: "Request #1: "))
        stack.gateway?.signal(SIGSTOP)
        let vote = try zulip.dm(from: bob, to: [me], "approve 1")
        XCTAssertNotNil(zulip.botMessage(to: bob, after: vote, startingWith: "Approved request #1"))
        leader.signal(SIGKILL)
        leader.waitForExit(timeout: 5)
        stack.gateway?.signal(SIGCONT)
        XCTAssertTrue(zulip.botReplies(to: alice, after: m).allSatisfy { !$0.content.hasPrefix("Request #1, approved by") },
                      "the code went out before the kill")
        let code = try XCTUnwrap(zulip.botMessage(to: alice, after: m, startingWith: "Request #1, approved by ", timeout: 30))
        XCTAssertNotNil(BotStack.code(in: code.content))
        XCTAssertTrue(BotStack.events(standby).contains("leader"))
        Thread.sleep(forTimeInterval: 2)
        XCTAssertEqual(zulip.botReplies(to: alice, after: m).filter { $0.content.hasPrefix("Request #1, approved by") }.count, 1)
    }
}
