import Shared
import CurlHTTP

/// Answers one Zulip message. Only 1:1 DMs get codes; group DMs get at most a hint (when the
/// bot is mentioned), stream messages and the bot's own messages nothing. Every request
/// produces exactly one reply (the catch-up after a takeover relies on that) and one audit
/// line (sender, label, outcome; never the code).
///
/// ```swift
/// let outcome = handler.handle(message, session: DMHandler.Session(botID: 7, featureLevel: 247))
/// ```
final class DMHandler: Sendable {
    /// Facts about the Zulip connection the handler needs.
    struct Session: Sendable {
        var botID: Int
        var featureLevel: Int
    }

    /// How a message was dealt with (`bot_dms_total{outcome}`).
    enum Outcome: String, Sendable {
        case code, notAvailable = "not_available", labels, help, unavailable, rateLimited = "rate_limited"
        case groupHint = "group_hint", ignoredGroup = "ignored_group", ignoredStream = "ignored_stream"
        case ignoredOwn = "ignored_own", replyFailed = "reply_failed"
    }

    private let zulip: ZulipClient
    private let gateway: GatewayClient
    private let acl: AccessList
    private let limiter: UserRateLimiter
    private let editor: ExpiryEditor?
    private let editDelay: Double
    private let metrics: BotMetrics
    private let logger: Logger
    private let audit: Logger

    init(zulip: ZulipClient, gateway: GatewayClient, acl: AccessList, limiter: UserRateLimiter, editor: ExpiryEditor?,
         editDelay: Double, metrics: BotMetrics, logger: Logger) {
        self.zulip = zulip
        self.gateway = gateway
        self.acl = acl
        self.limiter = limiter
        self.editor = editor
        self.editDelay = editDelay
        self.metrics = metrics
        self.logger = logger
        self.audit = logger.with(component: "audit")
    }

    @discardableResult
    func handle(_ message: ZulipMessage, session: Session) -> Outcome {
        let outcome = decideAndReply(message, session: session, received: ContinuousClock.now)
        metrics.dms.labels(outcome.rawValue).inc()
        return outcome
    }

    private func decideAndReply(_ m: ZulipMessage, session: Session, received: ContinuousClock.Instant) -> Outcome {
        if m.sender_id == session.botID { return .ignoredOwn }
        guard m.isDirect else {
            logger.debug("ignored_stream_message", ["message_id": .int(m.id)])
            return .ignoredStream
        }
        guard m.isOneToOne(botID: session.botID) else {
            // A code must never go to a group: at most a hint, and only when addressed.
            guard m.flags.contains("mentioned") else { return .ignoredGroup }
            let ids = m.others(botID: session.botID).map(\.id)
            _ = send(to: ids, ReplyFormatter.groupHint, session: session, inReplyTo: m.id)
            auditLine(m, received, label: "", outcome: .groupHint)
            return .groupHint
        }

        let command = BotCommand.parse(m.content)
        if let wait = limiter.check(userID: m.sender_id) {
            let outcome: Outcome = reply(m, ReplyFormatter.rateLimited(retryIn: Int(wait.rounded(.up))), session: session) ? .rateLimited : .replyFailed
            auditLine(m, received, label: command.label, outcome: .rateLimited)
            return outcome
        }
        switch command {
        case .help, .unknown:
            let ok = reply(m, ReplyFormatter.help, session: session)
            auditLine(m, received, label: "", outcome: .help)
            return ok ? .help : .replyFailed
        case .labels:
            let ok = reply(m, ReplyFormatter.labels(acl.grant(userID: m.sender_id, email: m.sender_email)), session: session)
            auditLine(m, received, label: "", outcome: .labels)
            return ok ? .labels : .replyFailed
        case .code(let rawLabel):
            return answerCode(m, rawLabel: rawLabel, session: session, received: received)
        }
    }

    private func answerCode(_ m: ZulipMessage, rawLabel: String, session: Session, received: ContinuousClock.Instant) -> Outcome {
        guard let label = try? SeedLabel(rawLabel).value,
            acl.allows(userID: m.sender_id, email: m.sender_email, label: label)
        else {
            let ok = reply(m, ReplyFormatter.notAvailable(label: rawLabel), session: session)
            auditLine(m, received, label: AccessList.printable(rawLabel), outcome: .notAvailable)
            return ok ? .notAvailable : .replyFailed
        }
        let started = ContinuousClock.now
        let outcome = gateway.fetchCode(label: label, next: true, requestID: "zulip-\(m.id)")
        switch outcome {
        case .code(let c):
            // The gateway's `remaining`, less the time spent since it answered: immune to clock
            // differences between the bot and the gateway.
            let elapsed = Int((ContinuousClock.now - started).components.seconds)
            let remaining = max(0, c.remaining - elapsed)
            var next: (code: String, startsIn: Int, validUntil: Int64)? = nil
            if remaining < ReplyFormatter.nextCodeThreshold, let nextCode = c.nextCode, let until = c.nextExpiresAt {
                next = (nextCode, remaining, until)
            }
            let text = ReplyFormatter.code(code: c.code, label: label, remaining: remaining, next: next)
            guard let replyID = send(to: [m.sender_id], text, session: session, inReplyTo: m.id) else {
                auditLine(m, received, label: label, outcome: .replyFailed)
                return .replyFailed
            }
            auditLine(m, received, label: label, outcome: .code, extra: ["gateway": .string(c.instance)])
            if let editor {
                let validFor = remaining + (next == nil ? 0 : c.period)
                editor.schedule(messageID: replyID, label: label, after: .milliseconds(Int64((Double(validFor) + editDelay) * 1000)))
            }
            return .code
        case .refused(let status, let error):
            if status == 403 || status == 404 {
                let ok = reply(m, ReplyFormatter.notAvailable(label: label), session: session)
                auditLine(m, received, label: label, outcome: .notAvailable)
                return ok ? .notAvailable : .replyFailed
            }
            logger.error("gateway_refused", ["status": .int(status), "error": .string(error), "label": .string(label),
                "message": "the gateway refused the bot's request; check GATEWAY_TOKEN and the gateway's token list"])
            let ok = reply(m, ReplyFormatter.unavailable, session: session)
            auditLine(m, received, label: label, outcome: .unavailable)
            return ok ? .unavailable : .replyFailed
        case .unavailable(let reason):
            logger.error("gateway_unavailable", ["label": .string(label), "reason": .string(reason)])
            let ok = reply(m, ReplyFormatter.unavailable, session: session)
            auditLine(m, received, label: label, outcome: .unavailable)
            return ok ? .unavailable : .replyFailed
        }
    }

    private func reply(_ m: ZulipMessage, _ text: String, session: Session) -> Bool {
        send(to: [m.sender_id], text, session: session, inReplyTo: m.id) != nil
    }

    /// Sends with a few bounded retries for 429 and 5xx (a rejected send was not delivered).
    private func send(to ids: [Int], _ text: String, session: Session, inReplyTo: Int) -> Int? {
        for attempt in 1...3 {
            do {
                return try zulip.sendDirect(to: ids, content: text, featureLevel: session.featureLevel)
            } catch {
                logger.warning("reply_failed", ["in_reply_to": .int(inReplyTo), "attempt": .int(attempt), "error": .string(error.description)])
                switch error.code {
                case .rateLimited where attempt < 3: Sleep.seconds(min(error.retryAfter ?? 1, 30))
                case .server where attempt < 3, .network where attempt < 3: Sleep.seconds(0.5 * Double(attempt))
                case .unauthorized: BotRunner.fatalCredentials(logger: logger)
                default: return nil
                }
            }
        }
        return nil
    }

    /// One audit line per request; `handling_ms` is the bot's own time from taking the event
    /// to having sent the reply (the gateway call and the Zulip POST included).
    private func auditLine(_ m: ZulipMessage, _ received: ContinuousClock.Instant, label: String, outcome: Outcome, extra: [String: LogValue] = [:]) {
        let took = ContinuousClock.now - received
        let ms = Double(took.components.seconds) * 1000 + Double(took.components.attoseconds) / 1e15
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
        if case .code(let label) = self { return AccessList.printable(label) }
        return ""
    }
}
