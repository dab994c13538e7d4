import Foundation
import XCTest
@testable import Bot

/// Every transition of the access workflow with made-up unix times and a table of who may do
/// what: no clock, no Zulip.
final class AccessWorkflowTests: XCTestCase {
    /// Alice 31 and Bob 32 request; Carol 33, Dave 34 and Erin 35 approve (group "ops").
    struct TableView: AccessView {
        var requesters: Set<Int> = [31, 32, 33]
        var groups: [String: Set<Int>] = ["ops": [33, 34, 35]]
        var inactive: Set<Int> = []
        let names = [31: "Alice", 32: "Bob", 33: "Carol", 34: "Dave", 35: "Erin"]

        func mayRequest(_ user: Int, label: String) -> Bool { requesters.contains(user) && !inactive.contains(user) }
        func users(_ principals: [Principal]) -> Set<Int> {
            var out = Set<Int>()
            for p in principals {
                switch p {
                case .user(let id): out.insert(id)
                case .group(let name): out.formUnion(groups[name] ?? [])
                case .email(let e): if let id = names.first(where: { $0.value.lowercased() + "@example.com" == e })?.key { out.insert(id) }
                }
            }
            return out.subtracting(inactive)
        }
        func name(_ user: Int) -> String { names[user] ?? "user \(user)" }
        func email(_ user: Int) -> String? { names[user].map { $0.lowercased() + "@example.com" } }
    }

    let t0 = 1_800_000_000.0
    var view = TableView()
    let policy = AccessPolicy(approvers: [.group("ops")], approvals: 1, reasonRequired: false, grantSeconds: 0, timeoutSeconds: 600)

    private func ask(_ requester: Int = 31, _ label: String = "prod", reason: String? = "deploy", message: Int, policy p: AccessPolicy? = nil)
        -> AccessWorkflow.Event {
        .request(.init(requester: requester, label: label, reason: reason, messageID: message, policy: p ?? policy))
    }

    private func replies(_ actions: [AccessWorkflow.Action]) -> [String] {
        actions.compactMap { if case .reply(let t) = $0 { return t } else { return nil } }
    }

    private func audits(_ actions: [AccessWorkflow.Action]) -> [AccessAudit.Action] {
        actions.compactMap { if case .audit(let a) = $0 { return a.action } else { return nil } }
    }

    /// Sends every ready ask, as the outbox sender would: ask message ids from 5000 + approver.
    private func sendAsks(_ flow: inout AccessWorkflow) {
        for item in flow.sendable(now: t0) where item.role == .ask {
            flow.markSending(item.key, users: item.users)
            flow.recordSent(item.key, messageID: 5000 + item.users[0])
        }
    }

    func testApprovalAsksEveryApproverThenSendsTheCodeAndTellsTheOthers() throws {
        var flow = AccessWorkflow()
        let actions = flow.handle(ask(message: 3040), now: t0, view: view)
        XCTAssertEqual(audits(actions), [.request])
        let waiting = try XCTUnwrap(replies(actions).first)
        XCTAssertTrue(waiting.hasPrefix("Request #1 for `prod` is waiting for an approval from Carol, Dave or Erin."), waiting)
        XCTAssertTrue(waiting.contains("expires at 08:10:00 UTC"), waiting)
        let asks = flow.sendable(now: t0)
        XCTAssertEqual(asks.map(\.key), ["r1-ask-33", "r1-ask-34", "r1-ask-35"])
        XCTAssertEqual(asks.map(\.users), [[33], [34], [35]])
        let text = try XCTUnwrap(asks[0].text)
        XCTAssertTrue(text.hasPrefix(asks[0].marker) && asks[0].marker == "Request #1: ", text)
        XCTAssertTrue(text.contains("Alice (alice@example.com) asks for a code for `prod`. Reason: `deploy`."), text)
        XCTAssertTrue(text.contains("`approve 1`") && text.contains(":+1:") && text.contains("`deny 1 [why]`"), text)
        sendAsks(&flow)
        XCTAssertEqual(flow.request(1)?.asks.map(\.messageID), [5033, 5034, 5035])
        XCTAssertEqual(flow.openAskMessages, [5033, 5034, 5035])

        let approved = flow.handle(.vote(number: 1, voter: 34, approve: true, why: nil, messageID: 3044), now: t0 + 30, view: view)
        XCTAssertEqual(audits(approved), [.approval, .approved])
        XCTAssertEqual(replies(approved), ["Approved request #1: the code goes to Alice now."])
        let r = try XCTUnwrap(flow.request(1))
        XCTAssertEqual(r.status, .approved)
        XCTAssertEqual(r.decidedBy, [34])
        let next = flow.sendable(now: t0 + 30)
        XCTAssertEqual(next.map(\.key), ["r1-code", "r1-notice-33", "r1-notice-35"], "the voter got the reply, not a notice")
        XCTAssertNil(next[0].text, "a code is made when it is sent")
        XCTAssertEqual(next[0].users, [31])
        XCTAssertEqual(next[0].marker, "Request #1, approved by ")
        XCTAssertEqual(next[1].text, "Request #1 (Alice, `prod`) was approved by Dave; nothing more to do.")

        // Late votes are told it is decided; the same DM again gets the same answer.
        XCTAssertEqual(replies(flow.handle(.vote(number: 1, voter: 33, approve: false, why: nil, messageID: 3050), now: t0 + 40, view: view)),
                       ["Request #1 is already approved by Dave; its code was sent to you."])
        XCTAssertEqual(replies(flow.handle(.vote(number: 1, voter: 34, approve: true, why: nil, messageID: 3044), now: t0 + 40, view: view)),
                       ["Approved request #1: the code goes to Alice now."])
        XCTAssertEqual(flow.outbox.count, 6, "nothing new owed")
    }

    func testDenialTellsTheRequesterWhyAndEndsTheRequest() throws {
        var flow = AccessWorkflow()
        _ = flow.handle(ask(message: 3040), now: t0, view: view)
        sendAsks(&flow)
        let denied = flow.handle(.vote(number: 1, voter: 33, approve: false, why: "not during the freeze", messageID: 3045), now: t0 + 5, view: view)
        XCTAssertEqual(audits(denied), [.denial])
        XCTAssertEqual(replies(denied), ["Denied request #1; Alice is told."])
        let owed = flow.sendable(now: t0 + 5)
        XCTAssertEqual(owed.map(\.key), ["r1-result", "r1-notice-34", "r1-notice-35"])
        XCTAssertEqual(owed[0].text, "Request #1 was denied by Carol: `not during the freeze`.")
        XCTAssertEqual(owed[0].users, [31])
        XCTAssertEqual(owed[1].text, "Request #1 (Alice, `prod`) was denied by Carol: `not during the freeze`.")
        XCTAssertFalse(owed.contains { $0.role == .code })
        XCTAssertEqual(replies(flow.handle(.vote(number: 1, voter: 34, approve: true, why: nil, messageID: 3046), now: t0 + 6, view: view)),
                       ["Request #1 is already decided: denied by Carol."])
        XCTAssertEqual(replies(flow.handle(.vote(number: 1, voter: 33, approve: false, why: "x", messageID: 3045), now: t0 + 6, view: view)),
                       ["Denied request #1; Alice is told."], "the same deny DM again")
    }

    func testAnUnansweredRequestExpiresOnATick() throws {
        var flow = AccessWorkflow()
        _ = flow.handle(ask(message: 3040), now: t0, view: view)
        sendAsks(&flow)
        XCTAssertEqual(audits(flow.handle(.tick, now: t0 + 599, view: view)), [])
        XCTAssertEqual(flow.request(1)?.status, .pending)
        XCTAssertEqual(audits(flow.handle(.tick, now: t0 + 600, view: view)), [.expiry])
        XCTAssertEqual(flow.request(1)?.status, .expired)
        let owed = flow.sendable(now: t0 + 600)
        XCTAssertEqual(owed.map(\.key), ["r1-result", "r1-notice-33", "r1-notice-34", "r1-notice-35"])
        XCTAssertEqual(owed[0].text, "Request #1 expired: nobody approved it in time. Send `code prod [reason]` to ask again.")
        XCTAssertEqual(replies(flow.handle(.vote(number: 1, voter: 33, approve: true, why: nil, messageID: 3060), now: t0 + 601, view: view)),
                       ["Request #1 is already over: it expired."])
        // Forgotten an hour after, once nothing is owed for it.
        for item in flow.sendable(now: t0 + 601) {
            flow.markSending(item.key, users: item.users)
            flow.recordSent(item.key, messageID: 6000)
        }
        _ = flow.handle(.tick, now: t0 + 600 + AccessWorkflow.retention + 1, view: view)
        XCTAssertNil(flow.request(1))
        XCTAssertEqual(flow.nextNumber, 2, "numbers are never reused")
    }

    func testTwoPersonRuleNeedsTwoDistinctApproversAndNeverTheRequester() throws {
        var flow = AccessWorkflow()
        var two = policy
        two.approvals = 2
        // Carol asks: she is an approver too, so she is not asked and cannot count.
        let actions = flow.handle(ask(33, message: 3040, policy: two), now: t0, view: view)
        XCTAssertTrue(replies(actions)[0].contains("waiting for 2 approvals from Dave or Erin"), replies(actions)[0])
        XCTAssertEqual(flow.sendable(now: t0).map(\.key), ["r1-ask-34", "r1-ask-35"])
        sendAsks(&flow)
        let own = flow.handle(.vote(number: 1, voter: 33, approve: true, why: nil, messageID: 3041), now: t0 + 1, view: view)
        XCTAssertEqual(replies(own), [AccessText.ownRequest])
        XCTAssertEqual(audits(own), [.refused])
        XCTAssertEqual(flow.request(1)?.votes, [])
        let first = flow.handle(.vote(number: 1, voter: 34, approve: true, why: nil, messageID: 3042), now: t0 + 2, view: view)
        XCTAssertEqual(replies(first), ["Your approval of request #1 is recorded; 1 more approval is needed."])
        XCTAssertEqual(replies(flow.handle(.vote(number: 1, voter: 34, approve: true, why: nil, messageID: 3043), now: t0 + 3, view: view)),
                       ["You approved request #1 already."], "the same approver twice is one approval")
        XCTAssertEqual(flow.request(1)?.status, .pending)
        let second = flow.handle(.vote(number: nil, voter: 35, approve: true, why: nil, messageID: 3044), now: t0 + 4, view: view)
        XCTAssertEqual(audits(second), [.approval, .approved], "`approve` alone: the one request waiting for Erin")
        XCTAssertEqual(flow.request(1)?.decidedBy, [34, 35])
        XCTAssertTrue(flow.sendable(now: t0 + 4).contains { $0.key == "r1-code" })

        // Too few approvers at all: refused at once, nobody asked.
        var three = policy
        three.approvals = 4
        let refused = flow.handle(ask(message: 3050, policy: three), now: t0, view: view)
        XCTAssertEqual(replies(refused), ["A code for `prod` needs 4 approvals from approvers other than you, and only 3 are available. Ask an administrator."])
        XCTAssertEqual(flow.nextNumber, 2)
    }

    func testSelfApprovalIsRefusedEvenWhenTheRequesterIsAnApprover() {
        var flow = AccessWorkflow()
        view.groups["ops"] = [31, 33]
        _ = flow.handle(ask(message: 3040), now: t0, view: view)
        XCTAssertEqual(flow.sendable(now: t0).map(\.users), [[33]], "the requester is not asked")
        sendAsks(&flow)
        XCTAssertEqual(replies(flow.handle(.vote(number: 1, voter: 31, approve: true, why: nil, messageID: 3041), now: t0 + 1, view: view)),
                       [AccessText.ownRequest])
        // Nor by reaction (a reaction on someone else's ask is not theirs to make).
        XCTAssertEqual(flow.handle(.reaction(messageID: 5033, user: 31, .up, added: true), now: t0 + 2, view: view), [])
        XCTAssertEqual(flow.request(1)?.status, .pending)
        // Someone outside the approvers is told so.
        XCTAssertEqual(replies(flow.handle(.vote(number: 1, voter: 32, approve: true, why: nil, messageID: 3042), now: t0 + 3, view: view)),
                       ["You are not an approver of request #1."])
        XCTAssertEqual(replies(flow.handle(.vote(number: 9, voter: 33, approve: true, why: nil, messageID: 3043), now: t0 + 3, view: view)),
                       [AccessText.noSuchRequest(9)])
    }

    func testAGrantCoversLaterCodesUntilItEnds() throws {
        var flow = AccessWorkflow()
        var granting = policy
        granting.grantSeconds = 1800
        granting.notify = .stream(name: "security", topic: "codes")
        _ = flow.handle(ask(message: 3040, policy: granting), now: t0, view: view)
        sendAsks(&flow)
        let approved = flow.handle(.vote(number: 1, voter: 33, approve: true, why: nil, messageID: 3041), now: t0 + 10, view: view)
        XCTAssertEqual(audits(approved), [.approval, .approved, .grantStart])
        XCTAssertTrue(replies(approved)[0].contains("Until 08:30:10 UTC Alice gets codes for `prod` without asking again."), replies(approved)[0])
        XCTAssertEqual(flow.grants(of: 31, now: t0 + 10).map(\.until), [t0 + 1810])
        // The notification waits for the code to be sent.
        XCTAssertEqual(flow.item("r1-notify")?.status, .held)
        flow.markSending("r1-code", users: [31])
        flow.recordSent("r1-code", messageID: 3050)
        XCTAssertEqual(flow.item("r1-notify")?.status, .ready)
        let notification = try XCTUnwrap(flow.item("r1-notify"))
        XCTAssertEqual(notification.stream, "security")
        XCTAssertEqual(notification.topic, "codes")
        XCTAssertEqual(notification.text, "Code handed out (request #1): a code for `prod` went to Alice (alice@example.com) at 08:00:10 UTC. Reason: `deploy`. Approved by Carol.")

        // Within the grant: handed out at once, as the reply to the DM, announced after it.
        let use = flow.handle(ask(reason: "again", message: 3060, policy: granting), now: t0 + 100, view: view)
        XCTAssertEqual(use, [.issueCode(request: 2)])
        XCTAssertEqual(flow.request(2)?.grantOf, 1)
        XCTAssertEqual(flow.item("r2-notify")?.status, .held)
        XCTAssertEqual(flow.item("r2-notify")?.afterReplyTo, 3060)
        XCTAssertTrue(flow.item("r2-notify")?.text?.contains("Under the grant of request #1 (approved by Carol) until 08:30:10 UTC.") == true)
        // The DM answered again (after a failover) is the same request, not a second one.
        XCTAssertEqual(flow.handle(ask(reason: "again", message: 3060, policy: granting), now: t0 + 101, view: view), [.issueCode(request: 2)])
        var state = LeaderState(lastMessageID: 3059)
        state.access = flow
        state.recordReply(to: 3060, replyID: 3061)
        XCTAssertEqual(state.access.item("r2-notify")?.status, .ready, "the reply on record lets the notification go")
        flow = state.access
        // Bob has no grant; a code that could not be handed out is announced nowhere.
        XCTAssertEqual(flow.handle(ask(32, message: 3070, policy: AccessPolicy(notify: .stream(name: "s", topic: "t"))), now: t0 + 200, view: view),
                       [.issueCode(request: 3)])
        _ = flow.handle(.issueFailed(request: 3), now: t0 + 200, view: view)
        XCTAssertNil(flow.item("r3-notify"))
        XCTAssertNil(flow.request(3))

        // The grant ends: the next request needs an approval again.
        XCTAssertEqual(audits(flow.handle(.tick, now: t0 + 1810, view: view)), [.grantEnd])
        XCTAssertEqual(flow.grants(of: 31, now: t0 + 1810), [])
        XCTAssertTrue(replies(flow.handle(ask(message: 3080, policy: granting), now: t0 + 1811, view: view))[0].contains("waiting for an approval"))
    }

    func testReactionsOnTheAskVoteAndCanBeTakenBack() throws {
        var flow = AccessWorkflow()
        var two = policy
        two.approvals = 2
        _ = flow.handle(ask(message: 3040, policy: two), now: t0, view: view)
        sendAsks(&flow)
        // Reactions elsewhere, or by someone the ask did not go to, do nothing.
        XCTAssertEqual(flow.handle(.reaction(messageID: 4444, user: 33, .up, added: true), now: t0 + 1, view: view), [])
        XCTAssertEqual(flow.handle(.reaction(messageID: 5034, user: 33, .up, added: true), now: t0 + 1, view: view), [])
        XCTAssertEqual(audits(flow.handle(.reaction(messageID: 5033, user: 33, .up, added: true), now: t0 + 2, view: view)), [.approval])
        XCTAssertEqual(flow.handle(.reaction(messageID: 5033, user: 33, .up, added: true), now: t0 + 2, view: view), [], "counted once")
        XCTAssertEqual(audits(flow.handle(.reaction(messageID: 5033, user: 33, .up, added: false), now: t0 + 3, view: view)), [.approvalWithdrawn])
        XCTAssertEqual(flow.request(1)?.votes, [])
        // What a new leader finds on the asks: Carol's and Dave's thumbs up.
        XCTAssertEqual(audits(flow.handle(.reactionsSeen(messageID: 5033, up: [33], down: []), now: t0 + 4, view: view)), [.approval])
        XCTAssertEqual(flow.handle(.reactionsSeen(messageID: 5033, up: [33], down: []), now: t0 + 4, view: view), [], "seen twice, counted once")
        XCTAssertEqual(audits(flow.handle(.reactionsSeen(messageID: 5034, up: [34, 31], down: []), now: t0 + 5, view: view)), [.approval, .approved])
        XCTAssertEqual(flow.request(1)?.decidedBy, [33, 34])
        XCTAssertEqual(flow.sendable(now: t0 + 5).filter { $0.role == .notice }.map(\.users), [[33], [34], [35]],
                       "votes by reaction get no reply, so every approver gets the notice")

        var denying = AccessWorkflow()
        _ = denying.handle(ask(message: 3040), now: t0, view: view)
        sendAsks(&denying)
        XCTAssertEqual(audits(denying.handle(.reaction(messageID: 5035, user: 35, .down, added: true), now: t0 + 1, view: view)), [.denial])
        XCTAssertEqual(denying.item("r1-result")?.text, "Request #1 was denied by Erin.")
    }

    func testLosingAccessCancelsRequestsRevokesGrantsAndWithdrawsVotes() throws {
        var flow = AccessWorkflow()
        var granting = policy
        granting.grantSeconds = 3600
        granting.approvals = 2
        _ = flow.handle(ask(31, message: 3040, policy: granting), now: t0, view: view)
        _ = flow.handle(ask(32, message: 3041, policy: granting), now: t0, view: view)
        sendAsks(&flow)
        _ = flow.handle(.vote(number: 1, voter: 33, approve: true, why: nil, messageID: 3042), now: t0 + 1, view: view)
        _ = flow.handle(.vote(number: 1, voter: 34, approve: true, why: nil, messageID: 3043), now: t0 + 1, view: view)
        _ = flow.handle(.vote(number: 2, voter: 33, approve: true, why: nil, messageID: 3044), now: t0 + 1, view: view)
        XCTAssertEqual(flow.grants(of: 31, now: t0 + 2).count, 1)

        // Carol leaves the approvers' group, Bob loses access to the label.
        view.groups["ops"] = [34, 35]
        view.requesters = [31, 33]
        let changed = flow.handle(.accessChanged, now: t0 + 3, view: view)
        XCTAssertEqual(audits(changed), [.cancel])
        XCTAssertEqual(flow.request(2)?.status, .cancelled)
        XCTAssertEqual(flow.item("r2-result")?.text, "Request #2 was cancelled: you may no longer request `prod`.")
        XCTAssertEqual(flow.grants(of: 31, now: t0 + 3).count, 1, "Alice keeps hers")

        // Alice is deactivated: her grant ends at once, and so would any request.
        view.inactive = [31]
        XCTAssertEqual(audits(flow.handle(.accessChanged, now: t0 + 4, view: view)), [.grantRevoked])
        XCTAssertEqual(flow.grants(of: 31, now: t0 + 4), [])

        // A vote by someone who is no longer an approver stops counting.
        view.inactive = []
        view.requesters = [31, 32]
        view.groups["ops"] = [33, 34, 35]
        _ = flow.handle(ask(32, message: 3050, policy: granting), now: t0 + 5, view: view)
        _ = flow.handle(.vote(number: 3, voter: 33, approve: true, why: nil, messageID: 3051), now: t0 + 6, view: view)
        view.groups["ops"] = [34, 35]
        XCTAssertEqual(audits(flow.handle(.accessChanged, now: t0 + 7, view: view)), [.approvalWithdrawn])
        XCTAssertEqual(flow.request(3)?.votes, [])
        XCTAssertEqual(replies(flow.handle(.vote(number: 3, voter: 33, approve: true, why: nil, messageID: 3052), now: t0 + 8, view: view)),
                       ["You are not an approver of request #3."])
    }

    func testReasonsTheSameDMAgainAndWhatIsOwedSurviveTheStateFile() throws {
        var flow = AccessWorkflow()
        var strict = policy
        strict.reasonRequired = true
        XCTAssertEqual(replies(flow.handle(ask(reason: nil, message: 3040, policy: strict), now: t0, view: view)),
                       ["A code for `prod` needs a reason: send `code prod <why you need it>`."])
        XCTAssertEqual(replies(flow.handle(ask(reason: "", message: 3041, policy: strict), now: t0, view: view)).count, 1)
        XCTAssertTrue(flow.isBlank, "nothing recorded for a refused request")
        let long = String(repeating: "x", count: 1000)
        let first = flow.handle(ask(reason: long, message: 3042, policy: strict), now: t0, view: view)
        XCTAssertEqual(flow.request(1)?.reason?.count, AccessText.maxReason)
        XCTAssertEqual(replies(flow.handle(ask(reason: long, message: 3042, policy: strict), now: t0 + 1, view: view)), replies(first),
                       "the same DM again is the same request")
        XCTAssertEqual(flow.nextNumber, 2)
        flow.markSending("r1-ask-33", users: [33])

        var state = LeaderState(lastMessageID: 3042)
        state.access = flow
        let bytes = try XCTUnwrap(state.encoded(now: 1))
        let back = try XCTUnwrap(LeaderState.decode(bytes))
        XCTAssertEqual(back.access, flow)
        XCTAssertEqual(back.access.inDoubt.map(\.key), ["r1-ask-33"])
        // A state file of an earlier version has no access part.
        XCTAssertEqual(LeaderState.decode(Array(#"{"last_message_id":5,"updated_at":1,"replies":{}}"#.utf8))?.access, AccessWorkflow())
    }

    func testTheOutboxForgetsWhatTheWatermarkPassed() {
        var flow = AccessWorkflow()
        _ = flow.handle(ask(message: 3040, policy: AccessPolicy(notify: .direct([.group("ops"), .user(31)]))), now: t0, view: view)
        XCTAssertEqual(flow.item("r1-notify")?.users, [31, 33, 34, 35])
        XCTAssertEqual(flow.item("r1-notify")?.status, .held)
        var state = LeaderState(lastMessageID: 3039)
        state.access = flow
        // The DM was settled without its code (too old, say): the notification goes nowhere.
        state.advance(to: 3040)
        XCTAssertNil(state.access.item("r1-notify"))

        _ = state.access.handle(ask(message: 3050), now: t0, view: view)
        state.access.markSending("r2-ask-33", users: [33])
        state.access.recordSent("r2-ask-33", messageID: 3052)
        XCTAssertEqual(state.access.sentMessageIDs, [3052])
        XCTAssertEqual(state.access.unsentCount, 2)
        state.advance(to: 3051)
        XCTAssertEqual(state.access.sentMessageIDs, [3052], "above the watermark: catch-up may still meet it")
        state.advance(to: 3052)
        XCTAssertEqual(state.access.sentMessageIDs, [])
        XCTAssertEqual(state.access.request(2)?.asks.first?.messageID, 3052, "the request keeps its ask's id")
        // An item given up takes what waited for it along.
        state.access.retryLater("r2-ask-34", at: t0 + 60)
        XCTAssertEqual(state.access.sendable(now: t0).map(\.key), ["r2-ask-35"])
        XCTAssertEqual(state.access.sendable(now: t0 + 60).map(\.key), ["r2-ask-34", "r2-ask-35"])
        XCTAssertEqual(state.access.drop("r2-ask-34").map(\.key), ["r2-ask-34"])
    }

    func testTextsQuoteUserTextAndNameNoCode() {
        XCTAssertEqual(AccessText.quote("deploy"), "`deploy`")
        XCTAssertEqual(AccessText.quote("a `b` c"), "``a `b` c``")
        XCTAssertEqual(AccessText.quote("`x"), "`` `x ``")
        XCTAssertEqual(AccessText.quote("@**all**\nline"), "`@**all** line`")
        XCTAssertEqual(AccessText.list(["A"]), "A")
        XCTAssertEqual(AccessText.list(["A", "B", "C"]), "A, B and C")
        XCTAssertEqual(AccessText.list((1...10).map(String.init), limit: 3), "1, 2, 3 and 7 more")
        // Markers are never the start of a reply.
        let replies = [AccessText.waiting(AccessRequest(number: 7, requester: 1, label: "x", reason: nil, messageID: 1, policy: policy,
                                                        createdAt: t0, expiresAt: t0), approvers: ["A"]),
                       AccessText.voteRecorded(AccessRequest(number: 7, requester: 1, label: "x", reason: nil, messageID: 1, policy: policy,
                                                             createdAt: t0, expiresAt: t0), missing: 1)]
        for reply in replies {
            for marker in [AccessText.Marker.ask(7), AccessText.Marker.notice(7), AccessText.Marker.code(7), AccessText.Marker.denied(7),
                           AccessText.Marker.expired(7), AccessText.Marker.cancelled(7), AccessText.Marker.notification(7)] {
                XCTAssertFalse(reply.hasPrefix(marker), reply)
            }
        }
    }
}
