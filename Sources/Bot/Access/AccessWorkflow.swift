/// The access workflow as one state machine: requests for codes under a policy, their votes and
/// decisions, running grants, and the messages owed (`outbox`). A plain value that is part of
/// the leader's one state document (`LeaderState.access`): every event is applied and written
/// before anything is sent, so a leader killed at any point leaves a successor that finishes
/// the job exactly once. It takes events with the current unix time and a view of who may do
/// what (`AccessView`), and returns the reply to the DM at hand, codes to hand out as that
/// reply, and audit lines; messages to send go into the outbox (`OutboxSender` sends them).
/// No I/O, no clock: every transition is unit-tested with made-up times.
///
/// Events: a `code` request, an `approve`/`deny` DM, a :+1:/:-1: reaction added or removed on
/// an ask (or the reactions seen on it after a takeover), a tick (timeouts, grant ends), a
/// change of access (a member left a group, a user was deactivated).
///
/// ```swift
/// var flow = AccessWorkflow()
/// flow.handle(.request(.init(requester: 31, label: "prod", reason: "deploy", messageID: 3040, policy: p)), now: t, view: view)
/// // [.reply("Request #1 for `prod` is waiting for ..."), .audit(request)]; asks in flow.outbox
/// flow.handle(.vote(number: 1, voter: 33, approve: true, why: nil, messageID: 3044), now: t + 5, view: view)
/// // [.reply("Approved request #1: ..."), .audit(approval), .audit(approved)]; the code in flow.outbox
/// ```
struct AccessWorkflow: Sendable, Equatable, Codable {
    var nextNumber = 1
    var requests: [AccessRequest] = []
    var grants: [AccessGrant] = []
    var outbox: [OutboxItem] = []

    /// How long a decided request is remembered: a DM answered again after a failover (within
    /// BOT_CATCHUP_MAX_AGE) must meet its request rather than make a new one, and a late
    /// `approve` gets "already decided".
    static let retention: Double = 3600
    /// At most this many decided requests are remembered (the state file stays small).
    static let maxDecided = 300
    /// An outbox item not delivered within this long is given up (a stream that does not
    /// exist, a recipient Zulip refuses).
    static let giveUpAfter: Double = 86400

    init() {}

    /// A `code <label> [reason]` DM under a policy.
    struct Ask: Sendable, Equatable {
        var requester: Int
        var label: String
        var reason: String?
        var messageID: Int
        var policy: AccessPolicy
    }

    /// A vote by reaction on an ask.
    enum Reaction: Sendable, Equatable {
        case up, down
    }

    enum Event: Sendable, Equatable {
        case request(Ask)
        /// `approve <n>` / `deny <n> [why]` (`number` nil: the one request waiting for the voter).
        case vote(number: Int?, voter: Int, approve: Bool, why: String?, messageID: Int)
        case reaction(messageID: Int, user: Int, Reaction, added: Bool)
        /// The reactions found on an ask message (after a takeover or a lost queue: reactions
        /// made meanwhile reached no queue of this leader).
        case reactionsSeen(messageID: Int, up: Set<Int>, down: Set<Int>)
        /// A code to be handed out as a reply (`issueCode`) could not be: no code, no notification.
        case issueFailed(request: Int)
        /// Time passed: timeouts, grant ends, forgetting old requests.
        case tick
        /// Group members or users changed: access and approver rights are judged anew.
        case accessChanged
    }

    enum Action: Sendable, Equatable {
        /// The reply to the DM at hand.
        case reply(String)
        /// Hand the code for request `n` out now, as the reply to the DM at hand.
        case issueCode(request: Int)
        case audit(AccessAudit)
    }

    var isBlank: Bool { nextNumber == 1 && requests.isEmpty && grants.isEmpty && outbox.isEmpty }

    func request(_ number: Int) -> AccessRequest? { requests.first { $0.number == number } }

    /// The requests waiting for `user`'s vote (they may vote on them now).
    func pending(for user: Int, view: some AccessView) -> [AccessRequest] {
        requests.filter { r in
            r.isPending && r.requester != user && !r.votes.contains { $0.voter == user } && view.users(r.policy.approvers).contains(user)
        }
    }

    /// `user`'s running grants.
    func grants(of user: Int, now: Double) -> [AccessGrant] { grants.filter { $0.requester == user && $0.until > now } }

    // MARK: - Events

    mutating func handle(_ event: Event, now: Double, view: some AccessView) -> [Action] {
        switch event {
        case .request(let ask): request(ask, now: now, view: view)
        case .vote(let number, let voter, let approve, let why, let messageID):
            vote(number: number, voter: voter, approve: approve, why: why, messageID: messageID, now: now, view: view)
        case .reaction(let messageID, let user, let kind, let added): reaction(messageID, user, kind, added: added, now: now, view: view)
        case .reactionsSeen(let messageID, let up, let down): reactionsSeen(messageID, up: up, down: down, now: now, view: view)
        case .issueFailed(let number):
            issueFailed(number)
        case .tick: tick(now: now, view: view)
        case .accessChanged: accessChanged(now: now, view: view)
        }
    }

    private mutating func request(_ ask: Ask, now: Double, view: some AccessView) -> [Action] {
        // The same DM again (answered anew after a failover): where its request stands.
        if let existing = requests.first(where: { $0.messageID == ask.messageID }) {
            switch existing.status {
            case .direct: return [.issueCode(request: existing.number)]
            case .pending: return [.reply(AccessText.waiting(existing, approvers: approverNames(existing, view: view)))]
            default: return [.reply(AccessText.status(existing, name: view.name))]
            }
        }
        let policy = ask.policy
        let reason = ask.reason.map { String($0.prefix(AccessText.maxReason)) }.flatMap { $0.isEmpty ? nil : $0 }
        if policy.reasonRequired && reason == nil {
            return [.reply(AccessText.reasonNeeded(label: ask.label))]
        }
        var r = AccessRequest(number: nextNumber, requester: ask.requester, label: ask.label, reason: reason, messageID: ask.messageID,
                              policy: policy, createdAt: now, expiresAt: now + Double(policy.timeoutSeconds))
        let grant = grants.first { $0.covers(requester: ask.requester, label: ask.label, at: now) }
        if grant != nil || !policy.needsApproval {
            nextNumber += 1
            r.status = .direct
            r.decidedAt = now
            r.grantOf = grant?.number
            requests.append(r)
            // Announced once the code is on record as sent (the reply to this DM).
            if var n = notification(for: r, grant: grant, now: now, view: view) {
                n.status = .held
                n.afterReplyTo = ask.messageID
                outbox.append(n)
            }
            return [.issueCode(request: r.number)]
        }
        let eligible = view.users(policy.approvers).subtracting([ask.requester]).sorted()
        guard eligible.count >= policy.approvals else {
            return [.reply(AccessText.cannotBeApproved(label: ask.label, needed: policy.approvals, available: eligible.count)),
                    .audit(AccessAudit(action: .refused, request: 0, label: ask.label, requester: ask.requester, reason: reason,
                                       note: "\(eligible.count) approver(s) available, \(policy.approvals) needed"))]
        }
        nextNumber += 1
        r.asks = eligible.map { AccessRequest.Ask(approver: $0) }
        requests.append(r)
        let text = AccessText.ask(r, requester: view.name(r.requester), requesterEmail: view.email(r.requester))
        for approver in eligible {
            outbox.append(OutboxItem(key: "r\(r.number)-ask-\(approver)", role: .ask, request: r.number, users: [approver], text: text,
                                     marker: AccessText.Marker.ask(r.number), createdAt: now))
        }
        return [.reply(AccessText.waiting(r, approvers: approverNames(r, view: view))),
                .audit(AccessAudit(action: .request, request: r.number, label: r.label, requester: r.requester, reason: reason,
                                   note: "asked \(eligible.count) approver(s), \(policy.approvals) needed"))]
    }

    private mutating func vote(number: Int?, voter: Int, approve: Bool, why: String?, messageID: Int, now: Double,
                               view: some AccessView) -> [Action] {
        guard let number = number ?? soleRequest(for: voter, view: view) else {
            return [.reply(AccessText.whichRequest(pending(for: voter, view: view).map(\.number)))]
        }
        guard let index = requests.firstIndex(where: { $0.number == number && $0.status != .direct }) else {
            return [.reply(AccessText.noSuchRequest(number))]
        }
        var r = requests[index]
        let requester = view.name(r.requester)
        if r.requester == voter {
            return [.reply(AccessText.ownRequest),
                    .audit(AccessAudit(action: .refused, request: r.number, label: r.label, requester: r.requester, actor: voter,
                                       note: "self-approval refused"))]
        }
        guard r.isPending else {
            // The same DM again after a failover gets the answer it got the first time.
            if r.decidedByMessage == messageID {
                return [.reply(r.status == .approved ? AccessText.approvedReply(r, requester: requester) : AccessText.deniedReply(r, requester: requester))]
            }
            return [.reply(AccessText.status(r, name: view.name))]
        }
        guard view.users(r.policy.approvers).contains(voter) else { return [.reply(AccessText.notApprover(r.number))] }
        if !approve {
            let actions = deny(&r, by: voter, why: why, messageID: messageID, now: now, view: view)
            requests[index] = r
            return [.reply(AccessText.deniedReply(r, requester: requester))] + actions
        }
        if let earlier = r.votes.first(where: { $0.voter == voter }) {
            if earlier.messageID == messageID {
                return [.reply(AccessText.voteRecorded(r, missing: missingVotes(r, view: view)))]
            }
            return [.reply(AccessText.alreadyApproved(r.number))]
        }
        r.votes.append(AccessRequest.Vote(voter: voter, at: now, messageID: messageID))
        var actions: [Action] = [.audit(AccessAudit(action: .approval, request: r.number, label: r.label, requester: r.requester, actor: voter))]
        if missingVotes(r, view: view) == 0 {
            actions += decideApproved(&r, decidingMessage: messageID, quiet: voter, now: now, view: view)
            requests[index] = r
            return [.reply(AccessText.approvedReply(r, requester: requester))] + actions
        }
        requests[index] = r
        return [.reply(AccessText.voteRecorded(r, missing: missingVotes(r, view: view)))] + actions
    }

    private mutating func reaction(_ messageID: Int, _ user: Int, _ kind: Reaction, added: Bool, now: Double,
                                   view: some AccessView) -> [Action] {
        // Only the approver a DM asked can react to it (it is their 1:1 conversation).
        guard let index = requests.firstIndex(where: { r in r.isPending && r.asks.contains { $0.approver == user && $0.messageID == messageID } })
        else { return [] }
        var r = requests[index]
        guard r.requester != user, view.users(r.policy.approvers).contains(user) else { return [] }
        var actions: [Action] = []
        switch (kind, added) {
        case (.up, true):
            guard !r.votes.contains(where: { $0.voter == user }) else { return [] }
            r.votes.append(AccessRequest.Vote(voter: user, at: now))
            actions.append(.audit(AccessAudit(action: .approval, request: r.number, label: r.label, requester: r.requester, actor: user,
                                              note: "reaction")))
            if missingVotes(r, view: view) == 0 { actions += decideApproved(&r, decidingMessage: nil, quiet: nil, now: now, view: view) }
        case (.up, false):
            guard let v = r.votes.firstIndex(where: { $0.voter == user && $0.byReaction }) else { return [] }
            r.votes.remove(at: v)
            actions.append(.audit(AccessAudit(action: .approvalWithdrawn, request: r.number, label: r.label, requester: r.requester,
                                              actor: user, note: "reaction removed")))
        case (.down, true):
            actions += deny(&r, by: user, why: nil, messageID: nil, now: now, view: view)
        case (.down, false):
            return []
        }
        requests[index] = r
        return actions
    }

    private mutating func reactionsSeen(_ messageID: Int, up: Set<Int>, down: Set<Int>, now: Double, view: some AccessView) -> [Action] {
        guard let r = requests.first(where: { r in r.isPending && r.asks.contains { $0.messageID == messageID } }),
            let approver = r.asks.first(where: { $0.messageID == messageID })?.approver
        else { return [] }
        if down.contains(approver) { return reaction(messageID, approver, .down, added: true, now: now, view: view) }
        let voted = r.votes.contains { $0.voter == approver }
        if up.contains(approver), !voted { return reaction(messageID, approver, .up, added: true, now: now, view: view) }
        if !up.contains(approver), r.votes.contains(where: { $0.voter == approver && $0.byReaction }) {
            return reaction(messageID, approver, .up, added: false, now: now, view: view)
        }
        return []
    }

    private mutating func issueFailed(_ number: Int) -> [Action] {
        guard let index = requests.firstIndex(where: { $0.number == number && $0.status == .direct }) else { return [] }
        requests.remove(at: index)
        outbox.removeAll { $0.request == number && $0.status == .held }
        return []
    }

    private mutating func tick(now: Double, view: some AccessView) -> [Action] {
        var actions: [Action] = []
        for index in requests.indices where requests[index].isPending && requests[index].expiresAt <= now {
            var r = requests[index]
            r.status = .expired
            r.decidedAt = now
            tell(r, result: AccessText.expired(r), marker: AccessText.Marker.expired(r.number), quiet: nil, now: now, view: view)
            requests[index] = r
            actions.append(.audit(AccessAudit(action: .expiry, request: r.number, label: r.label, requester: r.requester)))
        }
        for g in grants where g.until <= now {
            actions.append(.audit(AccessAudit(action: .grantEnd, request: g.number, label: g.label, requester: g.requester)))
        }
        grants.removeAll { $0.until <= now }
        forgetOldRequests(now: now)
        for item in outbox where item.status != .sent && now - item.createdAt > Self.giveUpAfter {
            actions.append(.audit(AccessAudit(action: .undeliverable, request: item.request, label: request(item.request)?.label ?? "",
                                              requester: request(item.request)?.requester ?? 0, note: "\(item.role.rawValue) \(item.key) given up after a day")))
        }
        outbox.removeAll { $0.status != .sent && now - $0.createdAt > Self.giveUpAfter }
        return actions
    }

    private mutating func accessChanged(now: Double, view: some AccessView) -> [Action] {
        var actions: [Action] = []
        for index in requests.indices where requests[index].isPending {
            var r = requests[index]
            if !view.mayRequest(r.requester, label: r.label) {
                r.status = .cancelled
                r.decidedAt = now
                r.why = "the requester lost access"
                tell(r, result: AccessText.cancelled(r), marker: AccessText.Marker.cancelled(r.number), quiet: nil, now: now, view: view)
                requests[index] = r
                actions.append(.audit(AccessAudit(action: .cancel, request: r.number, label: r.label, requester: r.requester,
                                                  note: "the requester may no longer request the label")))
                continue
            }
            let approvers = view.users(r.policy.approvers)
            for v in r.votes where !approvers.contains(v.voter) {
                actions.append(.audit(AccessAudit(action: .approvalWithdrawn, request: r.number, label: r.label, requester: r.requester,
                                                  actor: v.voter, note: "no longer an approver")))
            }
            r.votes.removeAll { !approvers.contains($0.voter) }
            requests[index] = r
        }
        for g in grants where !view.mayRequest(g.requester, label: g.label) {
            actions.append(.audit(AccessAudit(action: .grantRevoked, request: g.number, label: g.label, requester: g.requester,
                                              note: "the holder may no longer request the label")))
        }
        grants.removeAll { !view.mayRequest($0.requester, label: $0.label) }
        return actions
    }

    // MARK: - Decisions

    /// Votes still missing: only approvers who may approve now count, never the requester.
    func missingVotes(_ r: AccessRequest, view: some AccessView) -> Int {
        let approvers = view.users(r.policy.approvers)
        let counted = Set(r.votes.map(\.voter)).filter { approvers.contains($0) && $0 != r.requester }
        return max(0, r.policy.approvals - counted.count)
    }

    private mutating func decideApproved(_ r: inout AccessRequest, decidingMessage: Int?, quiet: Int?, now: Double, view: some AccessView) -> [Action] {
        let approvers = view.users(r.policy.approvers)
        r.status = .approved
        r.decidedAt = now
        r.decidedByMessage = decidingMessage
        r.decidedBy = r.votes.map(\.voter).filter { approvers.contains($0) && $0 != r.requester }
        var actions: [Action] = [.audit(AccessAudit(action: .approved, request: r.number, label: r.label, requester: r.requester,
                                                    note: "approved by " + r.decidedBy.map(String.init).joined(separator: ",")))]
        if r.policy.grantSeconds > 0 {
            let g = AccessGrant(number: r.number, requester: r.requester, label: r.label, until: now + Double(r.policy.grantSeconds),
                                approvers: r.decidedBy)
            grants.removeAll { $0.requester == g.requester && $0.label == g.label }
            grants.append(g)
            actions.append(.audit(AccessAudit(action: .grantStart, request: r.number, label: r.label, requester: r.requester,
                                              note: "until \(Int64(g.until))")))
        }
        outbox.append(OutboxItem(key: "r\(r.number)-code", role: .code, request: r.number, users: [r.requester], text: nil,
                                 marker: AccessText.Marker.code(r.number), createdAt: now))
        if var n = notification(for: r, grant: nil, now: now, view: view) {
            n.status = .held
            n.afterItem = "r\(r.number)-code"
            outbox.append(n)
        }
        notices(r, quiet: quiet, now: now, view: view)
        return actions
    }

    private mutating func deny(_ r: inout AccessRequest, by voter: Int, why: String?, messageID: Int?, now: Double,
                               view: some AccessView) -> [Action] {
        r.status = .denied
        r.decidedAt = now
        r.decidedBy = [voter]
        r.decidedByMessage = messageID
        r.why = why.map { String($0.prefix(AccessText.maxReason)) }.flatMap { $0.isEmpty ? nil : $0 }
        tell(r, result: AccessText.denied(r, by: view.name(voter)), marker: AccessText.Marker.denied(r.number),
             quiet: messageID == nil ? nil : voter, now: now, view: view)
        return [.audit(AccessAudit(action: .denial, request: r.number, label: r.label, requester: r.requester, actor: voter, reason: r.why))]
    }

    /// Tells the requester `result` and the approvers that it is decided.
    private mutating func tell(_ r: AccessRequest, result: String, marker: String, quiet: Int?, now: Double, view: some AccessView) {
        outbox.append(OutboxItem(key: "r\(r.number)-result", role: .result, request: r.number, users: [r.requester], text: result,
                                 marker: marker, createdAt: now))
        notices(r, quiet: quiet, now: now, view: view)
    }

    /// "Request #n (...) was approved/denied/..." to every approver asked or voting, except
    /// `quiet` (who decided by DM and got the reply) and asks never sent.
    private mutating func notices(_ r: AccessRequest, quiet: Int?, now: Double, view: some AccessView) {
        // An ask not sent yet is not sent at all: the request is decided.
        let unsent = Set(outbox.filter { $0.request == r.number && $0.role == .ask && $0.status == .ready }.map { $0.users[0] })
        outbox.removeAll { $0.request == r.number && $0.role == .ask && $0.status == .ready }
        let text = AccessText.notice(r, requester: view.name(r.requester), name: view.name)
        var told = Set<Int>()
        for who in r.asks.map(\.approver) + r.votes.map(\.voter) where who != quiet && !unsent.contains(who) && told.insert(who).inserted {
            outbox.append(OutboxItem(key: "r\(r.number)-notice-\(who)", role: .notice, request: r.number, users: [who], text: text,
                                     marker: AccessText.Marker.notice(r.number), createdAt: now))
        }
    }

    /// The notification of a code handed out under `r`'s policy, if it asks for one.
    private func notification(for r: AccessRequest, grant: AccessGrant?, now: Double, view: some AccessView) -> OutboxItem? {
        guard let target = r.policy.notify else { return nil }
        let approvers = (grant?.approvers ?? r.decidedBy).map(view.name)
        let text = AccessText.notification(r, requester: view.name(r.requester), requesterEmail: view.email(r.requester), at: now,
                                           approvers: approvers, grant: grant)
        switch target {
        case .stream(let name, let topic):
            return OutboxItem(key: "r\(r.number)-notify", role: .notification, request: r.number, stream: name, topic: topic, text: text,
                              marker: AccessText.Marker.notification(r.number), createdAt: now)
        case .direct(let who):
            let users = view.users(who).sorted()
            guard !users.isEmpty else { return nil }
            return OutboxItem(key: "r\(r.number)-notify", role: .notification, request: r.number, users: users, text: text,
                              marker: AccessText.Marker.notification(r.number), createdAt: now)
        }
    }

    private func approverNames(_ r: AccessRequest, view: some AccessView) -> [String] {
        r.asks.map { view.name($0.approver) }
    }

    /// The one request waiting for `voter`, if exactly one does.
    private func soleRequest(for voter: Int, view: some AccessView) -> Int? {
        let open = pending(for: voter, view: view)
        return open.count == 1 ? open[0].number : nil
    }

    /// Drops decided requests older than `retention` (beyond `maxDecided`, the oldest) whose
    /// messages are all sent.
    private mutating func forgetOldRequests(now: Double) {
        let owing = Set(outbox.filter { $0.status != .sent }.map(\.request))
        requests.removeAll { r in !r.isPending && !owing.contains(r.number) && (r.decidedAt ?? now) + Self.retention < now }
        let decided = requests.filter { !$0.isPending && !owing.contains($0.number) }
        if decided.count > Self.maxDecided {
            let drop = Set(decided.sorted { ($0.decidedAt ?? 0) < ($1.decidedAt ?? 0) }.prefix(decided.count - Self.maxDecided).map(\.number))
            requests.removeAll { drop.contains($0.number) }
        }
    }

    private enum CodingKeys: String, CodingKey {
        case nextNumber = "next_number", requests, grants, outbox
    }
}
