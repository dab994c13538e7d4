import Platform
import TOTP
import CurlHTTP

/// Answers one Zulip message. Only 1:1 DMs get codes; group DMs get at most a hint (when the
/// bot is mentioned), stream messages and the bot's own messages nothing. Every request
/// produces exactly one reply (sent through `ReplySender`, which records it for catch-up) and
/// one audit line (sender, label, outcome; never the code). A reply that could not be sent is
/// reported as not settled: the leader keeps it for the next catch-up. A label with an access
/// policy goes through the access workflow (`AccessCoordinator`): the reply is then a request
/// number and whom it waits for, or a code at once under a running grant; `approve`, `deny`,
/// `pending` and `grants` are its commands.
///
/// ```swift
/// let handled = handler.handle(message, session: DMHandler.Session(botID: 7, featureLevel: 247), received: .now)
/// if !handled.settled { /* retry later */ }
/// ```
final class DMHandler: Sendable {
    /// Facts about the Zulip connection the handler needs.
    struct Session: Sendable {
        var botID: Int
        var featureLevel: Int
        /// The leader's event queue, for local echo of its sends (nil before registering).
        var queueID: String? = nil
    }

    /// How a message was dealt with (`bot_dms_total{outcome}`).
    enum Outcome: String, Sendable {
        case code, notAvailable = "not_available", labels, help, unavailable, rateLimited = "rate_limited"
        /// Rate-limited again before the notice's wait ran out: no reply, recorded as settled.
        case rateLimitedSilent = "rate_limited_silent"
        case groupHint = "group_hint", ignoredGroup = "ignored_group", ignoredStream = "ignored_stream"
        /// Access workflow: a request made, refused or waiting; a vote; `pending`; `grants`.
        case accessRequest = "access_request", accessVote = "access_vote", pending, grants
        case ignoredOwn = "ignored_own", ignoredBot = "ignored_bot", replyFailed = "reply_failed"
        /// Not answered: the leader's state cannot be saved (see `LeaderStateStore.writeFailure`).
        case stateUnwritable = "state_unwritable"
        /// Not answered here: another leader claimed the DM first in etcd and answers it.
        case claimedElsewhere = "claimed_elsewhere"
    }

    /// The outcome, and whether the message needs nothing more (false: its reply failed, or
    /// waits for the state directory).
    struct Handled: Sendable, Equatable {
        var outcome: Outcome
        var settled: Bool { outcome != .replyFailed && outcome != .stateUnwritable }
    }

    private let sender: ReplySender
    private let gateway: GatewayClient
    private let issuer: CodeIssuer
    private let access: AccessCoordinator
    private let view: LiveAccessView
    private let limiter: UserRateLimiter
    private let editor: ExpiryEditor?
    private let editDelay: Double
    private let metrics: BotMetrics
    private let logger: Logger
    private let audit: Logger

    init(sender: ReplySender, gateway: GatewayClient, issuer: CodeIssuer, access: AccessCoordinator, view: LiveAccessView,
         limiter: UserRateLimiter, editor: ExpiryEditor?, editDelay: Double, metrics: BotMetrics, logger: Logger) {
        self.sender = sender
        self.gateway = gateway
        self.issuer = issuer
        self.access = access
        self.view = view
        self.limiter = limiter
        self.editor = editor
        self.editDelay = editDelay
        self.metrics = metrics
        self.logger = logger
        self.audit = logger.with(component: "audit")
    }

    /// `received`: when the message reached the bot (its event or its catch-up page), the
    /// start of `handling_ms` in the audit line.
    @discardableResult
    func handle(_ message: ZulipMessage, session: Session, received: ContinuousClock.Instant) -> Handled {
        let outcome = decideAndReply(message, session: session, received: received)
        metrics.dms.labels(outcome.rawValue).inc()
        return Handled(outcome: outcome)
    }

    private func decideAndReply(_ m: ZulipMessage, session: Session, received: ContinuousClock.Instant) -> Outcome {
        if m.sender_id == session.botID { return .ignoredOwn }
        if view.directory.isBot(m.sender_id) == true {
            // Another bot (an echo bot, a second instance of this one under another account):
            // answering could start a loop that never ends, and bots need no codes.
            logger.debug("ignored_bot_message", ["message_id": .int(m.id), "sender_id": .int(m.sender_id)])
            return .ignoredBot
        }
        guard m.isDirect else {
            logger.debug("ignored_stream_message", ["message_id": .int(m.id)])
            return .ignoredStream
        }
        guard m.isOneToOne(botID: session.botID) else {
            // A code must never go to a group: at most a hint, and only when addressed.
            guard m.flags.contains("mentioned") else { return .ignoredGroup }
            let ids = m.others(botID: session.botID).map(\.id)
            let outcome = send(to: ids, ReplyFormatter.groupHint, session: session, inReplyTo: m.id).outcome(ifSent: .groupHint)
            auditLine(m, received, label: "", outcome: outcome)
            return outcome
        }

        let command = BotCommand.parse(m.content)
        switch limiter.admit(userID: m.sender_id) {
        case .allowed:
            break
        case .limited(let wait, notify: true):
            return answer(m, ReplyFormatter.rateLimited(retryIn: Int(wait.rounded(.up))), .rateLimited, label: command.label,
                          session: session, received: received)
        case .limited(_, notify: false):
            // Settled without a reply, and recorded as such first, so no later catch-up (this
            // leader's or the next one's) answers it after all.
            guard sender.recordNoReply(to: m.id) else { return .stateUnwritable }
            auditLine(m, received, label: command.label, outcome: .rateLimitedSilent)
            return .rateLimitedSilent
        }
        switch command {
        case .help, .unknown:
            return answer(m, ReplyFormatter.help, .help, label: "", session: session, received: received)
        case .labels:
            return answer(m, labelsText(for: m.sender_id, requestID: "zulip-\(m.id)"), .labels, label: "", session: session, received: received)
        case .code(let rawLabel, let reason):
            return answerCode(m, rawLabel: rawLabel, reason: reason, session: session, received: received)
        case .approve(let number):
            return vote(m, .vote(number: number, voter: m.sender_id, approve: true, why: nil, messageID: m.id), session: session, received: received)
        case .deny(let number, let why):
            return vote(m, .vote(number: number, voter: m.sender_id, approve: false, why: why, messageID: m.id), session: session, received: received)
        case .pending:
            return answer(m, access.pendingText(for: m.sender_id), .pending, label: "", session: session, received: received)
        case .grants:
            return answer(m, access.grantsText(for: m.sender_id), .grants, label: "", session: session, received: received)
        }
    }

    private func vote(_ m: ZulipMessage, _ event: AccessWorkflow.Event, session: Session, received: ContinuousClock.Instant) -> Outcome {
        guard let actions = access.apply(event) else { return .stateUnwritable }
        let text = actions.compactMap { if case .reply(let t) = $0 { t } else { nil } }.first ?? AccessText.whichRequest([])
        return answer(m, text, .accessVote, label: "", session: session, received: received)
    }

    /// `labels`: the labels the gateway serves the bot, as far as the sender may have them, and
    /// which of them need an approval or a reason. Without an answer from the gateway, the
    /// ACL's own list.
    private func labelsText(for user: Int, requestID: String) -> String {
        let grant = view.acl.grant(userID: user, emails: view.directory.emails(of: user), groups: view.groups.names(containing: user))
        guard let grant, view.directory.isActiveHuman(user) else { return ReplyFormatter.labels(nil) }
        let names: [String]?
        switch gateway.fetchLabels(requestID: requestID) {
        case .labels(let list):
            names = list.map(\.label).filter { label in
                if case .labels(let set) = grant { return set.contains(label) }
                return true
            }
        case .refused(let status, let error):
            logger.warning("gateway_labels_refused", ["status": .int(status), "error": .string(error)])
            names = nil
        case .unavailable(let reason):
            logger.warning("gateway_labels_unavailable", ["reason": .string(reason)])
            names = nil
        }
        if let names {
            return ReplyFormatter.labelList(names.map { ($0, access.policy(for: $0)) })
        }
        if case .labels(let set) = grant {
            return ReplyFormatter.labelList(set.sorted().map { ($0, access.policy(for: $0)) })
        }
        return ReplyFormatter.labels(grant)
    }

    private func answerCode(_ m: ZulipMessage, rawLabel: String, reason: String?, session: Session, received: ContinuousClock.Instant) -> Outcome {
        guard let label = try? SeedLabel(rawLabel).value,
            // By user id: the email a message carries is only a name, the directory says
            // which addresses are really this sender's, and the groups whom they are in now.
            view.mayRequest(m.sender_id, label: label)
        else {
            return answer(m, ReplyFormatter.notAvailable(label: rawLabel), .notAvailable, label: AccessList.printable(rawLabel),
                          session: session, received: received)
        }
        guard let policy = access.policy(for: label) else {
            return issueCode(m, label: label, request: nil, session: session, received: received)
        }
        let ask = AccessWorkflow.Ask(requester: m.sender_id, label: label, reason: reason, messageID: m.id, policy: policy)
        guard let actions = access.apply(.request(ask)) else { return .stateUnwritable }
        for action in actions {
            switch action {
            case .issueCode(let number):
                return issueCode(m, label: label, request: number, session: session, received: received)
            case .reply(let text):
                return answer(m, text, .accessRequest, label: label, session: session, received: received)
            case .audit:
                continue
            }
        }
        return answer(m, ReplyFormatter.unavailable, .unavailable, label: label, session: session, received: received)
    }

    /// Hands a code out as the reply to `m`: today's path, or (`request`) one the access
    /// workflow allows at once, which is then audited as used, or dropped if no code went out.
    private func issueCode(_ m: ZulipMessage, label: String, request: Int?, session: Session, received: ContinuousClock.Instant) -> Outcome {
        let outcome = issuer.issue(label: label, for: m.sender_id, requestID: "zulip-\(m.id)")
        guard case .code(let c) = outcome else {
            // No code goes out: the workflow forgets the hand-out (and its notification).
            if let request { access.apply(.issueFailed(request: request)) }
            switch outcome {
            case .refused(let status, let error):
                if status == 403 || status == 404 {
                    return answer(m, ReplyFormatter.notAvailable(label: label), .notAvailable, label: label, session: session, received: received)
                }
                let hint = switch status {
                case 429: "the gateway rate-limits the bot's token; raise its GATEWAY_RATE_LIMIT / GATEWAY_RATE_BURST or lower BOT_USER_RATE_*"
                case 401: "the gateway does not accept the bot's token; check GATEWAY_TOKEN and the gateway's GATEWAY_TOKENS"
                default: "the gateway refused the bot's request; check the bot's and the gateways' versions and configuration"
                }
                logger.error("gateway_refused", ["status": .int(status), "error": .string(error), "label": .string(label), "message": .string(hint)])
            case .unavailable(let reason):
                logger.error("gateway_unavailable", ["label": .string(label), "reason": .string(reason)])
            case .code:
                break
            }
            return answer(m, ReplyFormatter.unavailable, .unavailable, label: label, session: session, received: received)
        }
        let sent = send(to: [m.sender_id], c.text, session: session, inReplyTo: m.id)
        guard case .sent(let replyID) = sent else {
            let outcome = sent.outcome(ifSent: .code)
            auditLine(m, received, label: label, outcome: outcome)
            return outcome
        }
        issuer.record(c, for: m.sender_id)
        if let request { access.issued(request: request) }
        auditLine(m, received, label: label, outcome: .code, extra: ["gateway": .string(c.instance)])
        if let editor, let replyID {
            editor.schedule(messageID: replyID, label: label, dueAt: c.validUntil + editDelay)
        }
        return .code
    }

    /// Replies `text` to the sender and writes the audit line; `.replyFailed` (or
    /// `.stateUnwritable`) if not sent.
    private func answer(_ m: ZulipMessage, _ text: String, _ outcome: Outcome, label: String, session: Session,
                        received: ContinuousClock.Instant) -> Outcome {
        let result = send(to: [m.sender_id], text, session: session, inReplyTo: m.id).outcome(ifSent: outcome)
        auditLine(m, received, label: label, outcome: result)
        return result
    }

    /// How sending one reply ended.
    private enum Sent: Equatable {
        /// Zulip took it: the reply's id, when known.
        case sent(Int?)
        case failed
        /// Not sent, because it could not be put on record first.
        case notRecorded
        /// Another leader claimed it (etcd).
        case claimedElsewhere

        /// `ifSent` when sent, else why not.
        func outcome(ifSent: Outcome) -> Outcome {
            switch self {
            case .sent: ifSent
            case .failed: .replyFailed
            case .notRecorded: .stateUnwritable
            case .claimedElsewhere: .claimedElsewhere
            }
        }
    }

    private func send(to ids: [Int], _ text: String, session: Session, inReplyTo: Int) -> Sent {
        switch sender.send(to: ids, text, inReplyTo: inReplyTo, session: session) {
        case .sent(let id): .sent(id)
        case .failed: .failed
        case .notRecorded: .notRecorded
        case .claimedElsewhere: .claimedElsewhere
        }
    }

    /// One audit line per request; `handling_ms` runs from the message reaching the bot to
    /// its reply being sent (queueing, the gateway call and the Zulip POST included).
    private func auditLine(_ m: ZulipMessage, _ received: ContinuousClock.Instant, label: String, outcome: Outcome, extra: [String: LogValue] = [:]) {
        let took = ContinuousClock.now - received
        let ms = took.inSeconds * 1000
        var fields: [String: LogValue] = [
            "message_id": .int(m.id), "sender_id": .int(m.sender_id), "sender_email": .string(m.sender_email),
            "label": .string(label), "outcome": .string(outcome.rawValue), "handling_ms": .double((ms * 1000).rounded() / 1000),
        ]
        for (k, v) in extra { fields[k] = v }
        audit.info("request", fields)
    }
}

extension BotCommand {
    /// The label a `code` command named (for the audit line), else empty.
    var label: String {
        if case .code(let label, _) = self { return AccessList.printable(label) }
        return ""
    }
}
