import Platform
import Synchronization

/// The I/O around the access workflow (`AccessWorkflow`, a plain value in the leader's state):
/// it applies each event through the state store (written before anything is sent; a state
/// that cannot be saved answers nothing), logs the audit lines, and runs the leader's outbox
/// worker: every second a tick (timeouts, grant ends), then every message owed is sent
/// (`OutboxSender`). After each queue registration (a takeover, a lost queue) `prepare` settles
/// the sends a previous leader left in doubt and reads the reactions on open asks, which
/// reached no queue of this leader. Outbox work is serialized: one send at a time, whichever
/// thread asks.
///
/// ```swift
/// let access = AccessCoordinator(policies: config.policies, store: store, view: view, sender: sender, logger: logger)
/// access.apply(.request(ask))          // nil: the state cannot be saved
/// access.prepare(ctx)                  // after register, before catch-up
/// BotThread.spawn(name: "access") { access.run(while: { leadership.isServing }) }
/// ```
final class AccessCoordinator: Sendable {
    let policies: AccessPolicies
    private let store: LeaderStateStore
    private let view: LiveAccessView
    private let sender: OutboxSender
    private let zulip: ZulipClient
    private let logger: Logger
    private let audit: Logger
    private let wallClock: @Sendable () -> Double
    /// The leader's Zulip context once a queue is registered.
    private let context = Mutex<DMHandler.Session?>(nil)
    /// Set to wake the worker early (something new is owed).
    private let woken = Mutex(false)
    /// Reactions may have been missed (a state write failed while one arrived).
    private let reconcileWanted = Mutex(false)
    /// Serializes outbox work (sending, settling) across threads; true while some runs.
    private let outboxLock = Mutex(false)
    private let busy = Atomic<Bool>(false)

    init(policies: AccessPolicies, store: LeaderStateStore, view: LiveAccessView, sender: OutboxSender, zulip: ZulipClient, logger: Logger,
         wallClock: @escaping @Sendable () -> Double = ExpiryEditor.unixNow) {
        self.policies = policies
        self.store = store
        self.view = view
        self.sender = sender
        self.zulip = zulip
        self.logger = logger
        self.audit = logger.with(component: "audit")
        self.wallClock = wallClock
    }

    func policy(for label: String) -> AccessPolicy? { policies.policy(for: label) }

    /// Applies `event` and saves it; the actions (replies, codes to hand out) when saved, nil
    /// when the state cannot be written (then nothing happened).
    @discardableResult
    func apply(_ event: AccessWorkflow.Event) -> [AccessWorkflow.Action]? {
        var actions: [AccessWorkflow.Action] = []
        var changed = false
        let now = wallClock()
        do {
            try store.update(keepOnFailure: false) { state in
                let before = state.access
                actions = state.access.handle(event, now: now, view: view)
                changed = state.access != before
            }
        } catch {
            return nil
        }
        for case .audit(let a) in actions { Self.log(a, to: audit) }
        // Only news wakes the worker (a tick that changed nothing must not spin it).
        if changed { wake() }
        return actions
    }

    /// A code handed out at once (a grant, a policy without approvers) went out as a reply.
    func issued(request number: Int) {
        guard let r = store.current.access.request(number) else { return }
        let action: AccessAudit.Action = r.grantOf == nil ? .code : .grantUse
        Self.log(AccessAudit(action: action, request: r.number, label: r.label, requester: r.requester, reason: r.reason,
                             note: r.grantOf.map { "under the grant of request #\($0)" } ?? "no approval needed"), to: audit)
    }

    func pendingText(for user: Int) -> String {
        let flow = store.current.access
        return AccessText.pending(flow.pending(for: user, view: view), now: wallClock(), name: view.name)
    }

    func grantsText(for user: Int) -> String {
        let now = wallClock()
        return AccessText.grants(store.current.access.grants(of: user, now: now), now: now)
    }

    /// A `reaction` event: a thumbs up or down on an ask is a vote.
    func reaction(_ event: ZulipEvent) {
        guard let messageID = event.message_id, let user = event.user_id,
            let vote = ZulipReaction.vote(name: event.emoji_name, code: event.emoji_code, type: event.reaction_type)
        else { return }
        if apply(.reaction(messageID: messageID, user: user, vote, added: event.op == "add")) == nil {
            reconcileWanted.withLock { $0 = true }
        }
    }

    /// Users or groups changed: access and approver rights are judged anew.
    func accessChanged() {
        if apply(.accessChanged) == nil { reconcileWanted.withLock { $0 = true } }
    }

    /// After each queue registration: remember the context, settle what a previous leader (or
    /// this one, before its queue was lost) left in doubt, read the votes made by reaction
    /// meanwhile. Before catch-up, so that found messages are known as the bot's own.
    func prepare(_ ctx: DMHandler.Session) {
        context.withLock { $0 = ctx }
        exclusively {
            let doubtful = store.current.access.inDoubt
            if !doubtful.isEmpty {
                logger.info("access_settling", ["count": .int(doubtful.count), "message": "messages whose sending a previous leader did not see end"])
                sender.settle(doubtful, context: ctx)
            }
            reconcile()
        }
    }

    /// The outbox worker of a leader: ticks every second and sends what is owed, until
    /// `serving` says it no longer leads.
    func run(while serving: @escaping @Sendable () -> Bool) {
        while serving() {
            if apply(.tick) == nil { reconcileWanted.withLock { $0 = true } }
            if let ctx = context.withLock({ $0 }), store.writeFailure == nil {
                exclusively {
                    if reconcileWanted.withLock({ let w = $0; $0 = false; return w }) { reconcile() }
                    // Sends left in doubt by this leader (a lost answer whose search failed).
                    let stale = store.current.access.inDoubt
                    if !stale.isEmpty { sender.settle(stale, context: ctx) }
                    for item in store.current.access.sendable(now: wallClock()) {
                        guard serving() else { return }
                        // Each item afresh: an earlier send may have changed what is owed.
                        guard let current = store.current.access.item(item.key), current.status == .ready else { continue }
                        sender.send(current, context: ctx)
                    }
                }
            }
            waitForWork(upTo: .seconds(1))
        }
    }

    /// Waits until no outbox work runs (a shutdown step); false if `timeout` passed first.
    @discardableResult
    func waitUntilIdle(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while busy.load(ordering: .acquiring) {
            if ContinuousClock.now >= deadline { return false }
            Sleep.seconds(0.005)
        }
        return true
    }

    /// Votes made by reaction on open asks while no queue of this leader listened.
    private func reconcile() {
        for messageID in store.current.access.openAskMessages {
            do throws(ZulipError) {
                let message = try zulip.message(messageID)
                var up = Set<Int>(), down = Set<Int>()
                for r in message.reactions {
                    switch r.vote {
                    case .up?: up.insert(r.user_id)
                    case .down?: down.insert(r.user_id)
                    case nil: break
                    }
                }
                if apply(.reactionsSeen(messageID: messageID, up: up, down: down)) == nil { reconcileWanted.withLock { $0 = true } }
            } catch {
                logger.warning("access_reactions_unread", ["message_id": .int(messageID), "error": .string(error.description)])
                reconcileWanted.withLock { $0 = true }
            }
        }
    }

    private func exclusively(_ body: () -> Void) {
        outboxLock.withLock { _ in
            busy.store(true, ordering: .releasing)
            body()
            busy.store(false, ordering: .releasing)
        }
    }

    private func wake() { woken.withLock { $0 = true } }

    private func waitForWork(upTo limit: Duration) {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if woken.withLock({ let w = $0; $0 = false; return w }) { return }
            Sleep.seconds(0.02)
        }
    }

    /// One audit line: component `audit`, event `access`. Never a code.
    static func log(_ a: AccessAudit, to audit: Logger) {
        var fields: [String: LogValue] = [
            "action": .string(a.action.rawValue), "request": .int(a.request), "label": .string(a.label), "requester_id": .int(a.requester),
        ]
        if let actor = a.actor { fields["actor_id"] = .int(actor) }
        if let reason = a.reason { fields["reason"] = .string(reason) }
        if let note = a.note { fields["note"] = .string(note) }
        audit.info("access", fields)
    }
}
