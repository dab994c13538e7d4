import Platform

/// Sends the bot's replies and records them in the leader's state. A send that fails is
/// retried with back-off (429: after `Retry-After`) until `deadline`; then the message is left
/// for the next catch-up rather than dropped. Each POST carries the bot's `queue_id` and a
/// `local_id` naming the request, which Zulip echoes in the bot's own `message` event
/// (`local_message_id`): after a failure that may have delivered the message (no answer, a
/// 5xx), the sender waits briefly for that echo before sending again, so a lost answer does
/// not become a duplicate reply. Before the first POST the request is marked `sending` and
/// after it the reply is recorded, so a catch-up knows exactly which requests are answered.
///
/// ```swift
/// let sender = ReplySender(zulip: zulip, store: store, deadline: .seconds(10), logger: logger)
/// if case .sent(let id?) = sender.send(to: [42], "hello", inReplyTo: 3032, session: session) { ... }
/// ```
final class ReplySender: Sendable {
    /// How a send ended.
    enum Result: Sendable, Equatable {
        /// Zulip took it; the reply's id when known.
        case sent(Int?)
        /// Given up; `maybeDelivered` when the last failure could have delivered it anyway.
        case failed(maybeDelivered: Bool)
        /// Not sent: that a send was starting could not be saved (a full state directory), and
        /// a reply not on record might be sent again by the next leader.
        case notRecorded
        /// Not sent: another leader claimed the request first (etcd), so it answers it; settled here.
        case claimedElsewhere
    }

    private let zulip: ZulipClient
    private let store: LeaderStateStore
    private let deadline: Duration
    /// Asked right before every POST: false once this process may no longer be the leader.
    private let mayAct: @Sendable () -> Bool
    /// Asked once before the first POST: the request's claim (etcd), or `.proceed` (lock files).
    private let claim: @Sendable (Int) -> MessageClaim
    private let logger: Logger
    /// Zulip refused the bot's key: the process must end (exit 3); never returns.
    private let credentialsRejected: @Sendable () -> Never
    /// Longest wait for the echo of a send whose answer was lost (the bot's long poll gets
    /// its own messages within milliseconds).
    private let echoWait: Duration = .milliseconds(500)

    init(zulip: ZulipClient, store: LeaderStateStore, deadline: Duration, mayAct: @escaping @Sendable () -> Bool = { true },
         claim: @escaping @Sendable (Int) -> MessageClaim = { _ in .proceed },
         logger: Logger, credentialsRejected: @escaping @Sendable () -> Never) {
        self.claim = claim
        self.credentialsRejected = credentialsRejected
        self.zulip = zulip
        self.store = store
        self.deadline = deadline
        self.mayAct = mayAct
        self.logger = logger
    }

    /// The `local_id` of the reply to `requestID`, and back.
    static func localID(for requestID: Int) -> String { "reply-to-\(requestID)" }
    static func requestID(fromLocalID localID: String) -> Int? {
        localID.hasPrefix("reply-to-") ? Int(localID.dropFirst("reply-to-".count)) : nil
    }

    func send(to ids: [Int], _ text: String, inReplyTo requestID: Int, session: DMHandler.Session) -> Result {
        let giveUpAt = ContinuousClock.now + deadline
        var backoff = Backoff(initial: .milliseconds(250), maximum: .seconds(4))
        // On disk before the first POST, or no POST at all: exactly-once rests on it.
        do { try store.update(keepOnFailure: false) { $0.sending.insert(requestID) } } catch { return .notRecorded }
        // Recorded first, claimed second: a leader that dies between the two leaves a send in
        // doubt that its successor resolves as usual; the claim keeps a deposed leader that
        // resumes from sending what its successor answers.
        switch claim(requestID) {
        case .proceed:
            break
        case .claimedElsewhere(let token):
            logger.warning("reply_claimed_elsewhere", [
                "in_reply_to": .int(requestID), "claimed_by_token": .int(Int(token)),
                "message": "another leader claimed this DM first and answers it; not sent here",
            ])
            persist {
                $0.sending.remove(requestID)
                $0.noReply.insert(requestID)
            }
            return .claimedElsewhere
        case .refused(let why):
            logger.warning("reply_claim_refused", ["in_reply_to": .int(requestID), "reason": .string(why)])
            persist { $0.sending.remove(requestID) }
            return .failed(maybeDelivered: false)
        }
        var attempt = 0
        // Sticky: once an attempt may have delivered the message, a later refusal does not
        // make it certain that no reply exists.
        var maybeDelivered = false
        var queueID = session.queueID
        while true {
            attempt += 1
            // A leader whose lock was lost must not send even the reply it was working on:
            // the new leader answers the DM (it is still open for it).
            guard mayAct() else { return .failed(maybeDelivered: maybeDelivered) }
            do {
                let id = try zulip.sendDirect(
                    to: ids, content: text, featureLevel: session.featureLevel, queueID: queueID,
                    localID: queueID == nil ? nil : Self.localID(for: requestID))
                persist { $0.recordReply(to: requestID, replyID: id) }
                return .sent(id)
            } catch {
                let left = giveUpAt - .now
                logger.warning("reply_failed", [
                    "in_reply_to": .int(requestID), "attempt": .int(attempt), "error": .string(error.description),
                    "deadline_left_ms": .int(max(0, Int(left.inMilliseconds))),
                ])
                var wait: Duration
                switch error.code {
                case .unauthorized:
                    credentialsRejected()
                case .rateLimited:
                    // Refused before anything was stored: no echo to wait for.
                    wait = .milliseconds(Int64((error.retryAfter ?? 1) * 1000))
                case .server, .network, .decoding:
                    // The answer is lost, not necessarily the message.
                    maybeDelivered = true
                    if let echoed = awaitEcho(of: requestID, until: min(giveUpAt, .now + echoWait)) {
                        logger.info("reply_confirmed_by_echo", ["in_reply_to": .int(requestID), "message_id": .int(echoed)])
                        return .sent(echoed)
                    }
                    wait = backoff.next()
                case .badEventQueue where queueID != nil:
                    // Zulip does not check the sender's queue; should one ever refuse it, send
                    // without the echo rather than not at all.
                    queueID = nil
                    continue
                case .badRequest, .badEventQueue:
                    // Zulip refused this message (a deactivated user, say): sending again cannot help.
                    if !maybeDelivered { persist { $0.sending.remove(requestID) } }
                    return .failed(maybeDelivered: maybeDelivered)
                }
                if ContinuousClock.now + wait >= giveUpAt {
                    logger.error("reply_gave_up", [
                        "in_reply_to": .int(requestID), "attempts": .int(attempt), "maybe_delivered": .bool(maybeDelivered),
                        "message": "no reply could be sent within BOT_REPLY_DEADLINE_MS; the next catch-up retries it",
                    ])
                    if !maybeDelivered { persist { $0.sending.remove(requestID) } }
                    return .failed(maybeDelivered: maybeDelivered)
                }
                Sleep.for(wait)
            }
        }
    }

    /// Records that `requestID` is settled without a reply (a rate-limited user already told
    /// when to come back); false if the state could not be saved.
    func recordNoReply(to requestID: Int) -> Bool {
        do {
            try store.update(keepOnFailure: false) { $0.noReply.insert(requestID) }
            return true
        } catch {
            return false
        }
    }

    /// The reply id recorded for `requestID` once the bot's queue delivered its echo.
    private func awaitEcho(of requestID: Int, until: ContinuousClock.Instant) -> Int? {
        while true {
            if let id = store.current.replies[requestID] { return id }
            if ContinuousClock.now >= until { return nil }
            Sleep.seconds(0.05)
        }
    }

    /// A failure is the store's to log and count; the change stays in memory for the next write.
    private func persist(_ change: (inout LeaderState) -> Void) {
        try? store.update(change)
    }
}
