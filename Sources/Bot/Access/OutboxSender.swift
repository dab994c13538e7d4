import Platform

/// Sends the access workflow's outbox, each item exactly once across crashes: it is marked
/// `sending` in the leader's state before the POST and recorded `sent` with its message id after;
/// each POST carries a `local_id` (`outbox-<key>`) that Zulip echoes on the bot's own queue. A
/// send whose answer was lost (no answer, a 5xx) may have been delivered: the sender waits
/// briefly for the echo, then looks for the message in its conversation (every outbox text
/// starts with a marker unique there) and sends again only if it is not there. A new leader does
/// the same for every item a dead one left `sending` (`settle`). A code is fetched when its item
/// is sent, and only while its requester may still have it. Refused sends are tried again later
/// (a stream that does not exist yet); a recipient deactivated meanwhile is left out.
///
/// ```swift
/// let sender = OutboxSender(zulip: zulip, store: store, issuer: issuer, view: view, ...)
/// sender.send(item, context: ctx)          // one ready item
/// sender.settle(store.current.access.inDoubt, context: ctx)
/// ```
final class OutboxSender: Sendable {
    /// How long an approved code is tried for before the requester is told to ask again.
    static let codeDeadline: Double = 600
    /// Messages searched for a send in doubt.
    static let searchDepth = 100

    private let zulip: ZulipClient
    private let store: LeaderStateStore
    private let issuer: CodeIssuer
    private let view: LiveAccessView
    private let editor: ExpiryEditor?
    private let editDelay: Double
    private let mayAct: @Sendable () -> Bool
    /// Ends the process (3) once Zulip rejects the bot's credentials.
    private let credentialsRejected: @Sendable () -> Never
    private let logger: Logger
    private let audit: Logger
    private let wallClock: @Sendable () -> Double
    private let echoWait: Duration = .milliseconds(500)

    init(zulip: ZulipClient, store: LeaderStateStore, issuer: CodeIssuer, view: LiveAccessView, editor: ExpiryEditor?, editDelay: Double,
         mayAct: @escaping @Sendable () -> Bool, logger: Logger, credentialsRejected: @escaping @Sendable () -> Never,
         wallClock: @escaping @Sendable () -> Double = ExpiryEditor.unixNow) {
        self.zulip = zulip
        self.store = store
        self.issuer = issuer
        self.view = view
        self.editor = editor
        self.editDelay = editDelay
        self.mayAct = mayAct
        self.credentialsRejected = credentialsRejected
        self.logger = logger
        self.audit = logger.with(component: "audit")
        self.wallClock = wallClock
    }

    static func localID(for key: String) -> String { "outbox-" + key }
    static func key(fromLocalID localID: String) -> String? {
        localID.hasPrefix("outbox-") ? String(localID.dropFirst("outbox-".count)) : nil
    }

    /// Sends one ready item (or finds it needs no sending after all).
    func send(_ item: OutboxItem, context: DMHandler.Session) {
        let now = wallClock()
        let flow = store.current.access
        guard let request = flow.request(item.request) else {
            persist { $0.access.drop(item.key) }
            return
        }
        var text = item.text ?? ""
        var issued: CodeIssuer.Issued? = nil
        if item.role == .code {
            guard request.status == .approved, view.mayRequest(request.requester, label: request.label) else {
                logger.info("access_code_withheld", ["request": .int(request.number), "message": "the requester may no longer have this label; no code sent"])
                persist { $0.access.codeFailed(request.number, tell: false, now: now) }
                auditLine(.cancel, request, note: "code withheld: the requester lost access")
                return
            }
            switch issuer.issue(label: request.label, for: request.requester, requestID: "access-\(request.number)") {
            case .code(let c):
                issued = c
                text = AccessText.code(request, approvers: AccessText.list(request.decidedBy.map(view.name)), codeText: c.text)
            case .refused(let status, let error):
                logger.error("access_code_refused", ["request": .int(request.number), "status": .int(status), "error": .string(error),
                                                     "message": "the gateway refused the approved code; the requester is told to ask again"])
                persist { $0.access.codeFailed(request.number, tell: true, now: now) }
                auditLine(.undeliverable, request, note: "gateway refused: \(status) \(error)")
                return
            case .unavailable(let reason):
                if now - (request.decidedAt ?? now) > Self.codeDeadline {
                    persist { $0.access.codeFailed(request.number, tell: true, now: now) }
                    auditLine(.undeliverable, request, note: "the code service was unreachable for \(Int(Self.codeDeadline)) s")
                } else {
                    logger.warning("access_code_delayed", ["request": .int(request.number), "reason": .string(reason)])
                    persist { $0.access.retryLater(item.key, at: now + 5) }
                }
                return
            }
        }
        // Zulip refuses a DM to a deactivated user: leave them out, or drop the item.
        let users = item.users.filter { view.directoryAllowsMessages(to: $0) }
        if !item.isStream && users.isEmpty {
            persist { _ = $0.access.drop(item.key) }
            logger.info("access_message_dropped", ["key": .string(item.key), "message": "no active recipient is left"])
            return
        }
        // On record before the POST, or no POST at all.
        var marked = false
        do { try store.update(keepOnFailure: false) { marked = $0.access.markSending(item.key, users: users) } } catch { return }
        guard marked else { return }
        guard mayAct() else { return }
        let sent: Result<Int, ZulipError>
        do throws(ZulipError) {
            let localID = context.queueID == nil ? nil : Self.localID(for: item.key)
            let id = if let stream = item.stream {
                try zulip.sendStream(stream, topic: item.topic ?? "", content: text, queueID: context.queueID, localID: localID)
            } else {
                try zulip.sendDirect(to: users, content: text, featureLevel: context.featureLevel, queueID: context.queueID, localID: localID)
            }
            sent = .success(id)
        } catch {
            sent = .failure(error)
        }
        switch sent {
        case .success(let id):
            recorded(item, request: request, messageID: id, issued: issued, at: now)
        case .failure(let error):
            logger.warning("access_send_failed", ["key": .string(item.key), "error": .string(error.description)])
            switch error.code {
            case .unauthorized:
                credentialsRejected()
            case .rateLimited:
                persist { $0.access.retryLater(item.key, at: now + min(error.retryAfter ?? 1, 300)) }
            case .badRequest, .badEventQueue:
                // Refused, so not sent: try again later (a stream created later, say).
                if item.attempts + 1 >= 3 {
                    logger.error("access_send_refused", ["key": .string(item.key), "error": .string(error.description),
                                                         "message": "Zulip keeps refusing this message (a missing stream, a deactivated recipient?); retried every minute for a day"])
                }
                persist { $0.access.retryLater(item.key, at: now + 60) }
            case .server, .network, .decoding:
                // The answer is lost, not necessarily the message.
                if let echoed = awaitEcho(of: item.key) {
                    recorded(item, request: request, messageID: echoed, issued: issued, at: now)
                } else {
                    var doubtful = item
                    doubtful.users = users
                    settle([doubtful], context: context)
                }
            }
        }
    }

    /// Settles items whose POST may have happened: found in their conversation, they are sent;
    /// not found, they are sent again (from now). A search that fails leaves them for later.
    func settle(_ items: [OutboxItem], context: DMHandler.Session) {
        for item in items {
            let found: ZulipMessage?
            do throws(ZulipError) {
                let messages = try zulip.conversation(users: item.users, stream: item.stream, topic: item.topic, count: Self.searchDepth,
                                                      featureLevel: context.featureLevel)
                found = messages.last { $0.sender_id == context.botID && $0.content.hasPrefix(item.marker) }
            } catch {
                logger.warning("access_settle_failed", ["key": .string(item.key), "error": .string(error.description)])
                continue
            }
            let now = wallClock()
            if let found {
                logger.info("access_send_found", ["key": .string(item.key), "message_id": .int(found.id),
                                                  "message": "a send in doubt had arrived; not sent again"])
                guard let request = store.current.access.request(item.request) else { continue }
                // The code in it is unknown: edit it once any code shown could have expired.
                recorded(item, request: request, messageID: found.id, issued: nil, at: now, sentAt: Double(found.timestamp))
            } else {
                logger.info("access_send_retry", ["key": .string(item.key), "message": "a send in doubt had not arrived; sending it again"])
                persist { $0.access.retryLater(item.key, at: now) }
            }
        }
    }

    private func recorded(_ item: OutboxItem, request: AccessRequest, messageID: Int, issued: CodeIssuer.Issued?, at now: Double,
                          sentAt: Double? = nil) {
        persist { $0.access.recordSent(item.key, messageID: messageID) }
        switch item.role {
        case .code:
            if let issued { issuer.record(issued, for: request.requester) }
            // A code found again after a crash: it showed at most the current and next codes.
            let due = issued?.validUntil ?? ((sentAt ?? now) + 60)
            editor?.schedule(messageID: messageID, label: request.label, dueAt: due + editDelay)
            auditLine(.code, request, note: "sent as message \(messageID)\(issued?.reused == true ? ", the next code (the current one went to someone else)" : "")")
        case .notification:
            auditLine(.notification, request, note: item.stream.map { "stream \($0)/\(item.topic ?? "")" } ?? "dm to \(item.users.map(String.init).joined(separator: ","))")
        case .ask, .result, .notice:
            logger.info("access_message_sent", ["key": .string(item.key), "message_id": .int(messageID)])
        }
    }

    /// The message id of `key` once the bot's queue delivered its echo.
    private func awaitEcho(of key: String) -> Int? {
        let until = ContinuousClock.now + echoWait
        while true {
            if let item = store.current.access.item(key), item.status == .sent { return item.messageID }
            if ContinuousClock.now >= until { return nil }
            Sleep.seconds(0.05)
        }
    }

    private func auditLine(_ action: AccessAudit.Action, _ r: AccessRequest, note: String) {
        AccessCoordinator.log(AccessAudit(action: action, request: r.number, label: r.label, requester: r.requester, note: note), to: audit)
    }

    /// A failure is the store's to log and count; the change stays in memory for the next write.
    private func persist(_ change: (inout LeaderState) -> Void) {
        try? store.update(change)
    }
}

extension LiveAccessView {
    /// Whether Zulip takes a DM to `user` (it refuses deactivated accounts).
    func directoryAllowsMessages(to user: Int) -> Bool {
        directory.entry(user)?.isActive ?? true
    }
}
