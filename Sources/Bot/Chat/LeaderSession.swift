import Dispatch
import Platform
import HTTPServer
import Synchronization
import CurlHTTP

/// What the leader does with Zulip: learn its id and the feature level, register a DM queue,
/// set the watermark (first start: register's `max_message_id`) or catch up from it, then
/// long-poll. Messages are answered concurrently (`MessageDispatcher`: a few at once, each
/// sender's in order), and the watermark moves only past messages that are settled, so a
/// shutdown, a failed reply or a crash never skips one. A reply that failed is retried by a
/// catch-up a few seconds later. A long-poll not answered within `LongPollPatience.limit` is
/// stuck (a connection dropped on the way without a reset): it is abandoned and sent again with
/// the same `last_event_id`, logged and counted. Expired queues are re-registered (and caught up), 429s wait
/// `Retry-After`, other errors back off exponentially with jitter (the back-off is reset only
/// by a successful poll), 401 ends the process (exit 3). Every Zulip call that returns is a
/// heartbeat; the lifecycle's watchdog pings systemd only while the last one is recent and no
/// message has waited or run longer than `BOT_WATCHDOG_STALL_SECONDS` (`watchdogProblem`): a
/// stuck loop or reply path stops the pings and systemd restarts the bot.
/// While the state file cannot be written (`LeaderStateStore.writeFailure`) no DM is answered:
/// each is parked (open, so the watermark waits), the write is retried every second, and once
/// it succeeds the parked DMs are answered (those older than `BOT_CATCHUP_MAX_AGE` dropped, as a
/// catch-up would).
///
/// Whether it leads, and which queue it owns, is the `LeadershipDriver`'s to know: the session
/// asks it before registering and polling, and reports its queue to it, so a shutdown finds the
/// queue to delete in the same state that says it is stopping.
///
/// ```swift
/// let session = LeaderSession(..., leadership: driver)
/// NamedThread.detach(name: "zulip") { session.run(epoch: 7) }
/// // shutdown (the driver's steps):
/// session.stopTakingEvents(); session.waitForInFlight(timeout: .seconds(12)); session.deleteQueue(id, timeout: .seconds(2))
/// ```
final class LeaderSession: Sendable {
    /// Which messages are settled, and whether a catch-up should retry failed replies.
    private struct Tracking: Sendable {
        var progress = MessageProgress(watermark: nil)
        var catchUpWanted = false
        var lastCatchUp: ContinuousClock.Instant? = nil
        var stallReported = false
        /// When a Zulip call of the leader's loop last returned.
        var lastBeat: ContinuousClock.Instant? = nil
        /// How each ACL email resolved when last logged.
        var aclReported: [String: AccessList.EmailResolution]? = nil
        /// Whether each group the configuration names was found, when last logged.
        var groupsReported: [String: Bool]? = nil
        /// DMs not answered because the state could not be saved, by id.
        var parked: [Int: ZulipMessage] = [:]
        /// The context of the newest queue, for answering parked DMs.
        var context: DMHandler.Session? = nil
        /// How long a long-poll may go unanswered.
        var patience = LongPollPatience()
        /// When the event queue last answered (register or poll), or when this leader started.
        var lastEventAnswer: ContinuousClock.Instant? = nil
    }

    /// How often a failed state write is tried again.
    static let stateRetryInterval: Duration = .seconds(1)

    /// Replies in flight at once (each may wait up to the gateway deadline).
    static let maxConcurrentReplies = 4
    /// Shortest pause between catch-ups that retry failed replies.
    static let retryCatchUpInterval: Duration = .seconds(5)

    private let config: BotConfiguration
    private let zulip: ZulipClient
    private let handler: DMHandler
    private let directory: UserDirectory
    private let groups: UserGroupDirectory
    private let access: AccessCoordinator
    private let store: LeaderStateStore
    private let editor: ExpiryEditor?
    private let metrics: BotMetrics
    private let logger: Logger
    private let credentialsRejected: @Sendable () -> Never
    /// Ends the process (2): the configuration cannot work with this Zulip server.
    private let configurationUnusable: @Sendable (String) -> Never
    private let leadership: LeadershipDriver
    private let tracking = Mutex(Tracking())
    private let dispatcher = MessageDispatcher(maxConcurrent: LeaderSession.maxConcurrentReplies)

    init(config: BotConfiguration, zulip: ZulipClient, handler: DMHandler, directory: UserDirectory, groups: UserGroupDirectory,
         access: AccessCoordinator, store: LeaderStateStore, editor: ExpiryEditor?, metrics: BotMetrics, logger: Logger,
         leadership: LeadershipDriver, credentialsRejected: @escaping @Sendable () -> Never,
         configurationUnusable: @escaping @Sendable (String) -> Never) {
        self.config = config
        self.zulip = zulip
        self.handler = handler
        self.directory = directory
        self.groups = groups
        self.access = access
        self.store = store
        self.editor = editor
        self.metrics = metrics
        self.logger = logger
        self.credentialsRejected = credentialsRejected
        self.configurationUnusable = configurationUnusable
        self.leadership = leadership
    }

    /// Not leading any more (stopping, or leadership lost): take nothing new.
    private var stopping: Bool { !leadership.isServing }

    /// The watermark as this leader knows it.
    var watermark: Int? { tracking.withLock { $0.progress.watermark } }

    /// For the leader's `/healthz`: how long ago the event queue last answered (nil before this
    /// process leads), and how long a poll may now go unanswered.
    var eventQueueStatus: (lastAnswerAge: Duration?, limit: Duration) {
        tracking.withLock { t in (t.lastEventAnswer.map { .now - $0 }, t.patience.limit) }
    }

    /// Reads the previous leader's state; false if this leader must not go on. A file that
    /// cannot be read is logged and the leader goes on (as before); etcd is asked again for 5 s,
    /// then leadership is given up (exit 1) rather than overwrite the state it could not read.
    private func readState() -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            do {
                try store.load()
                return true
            } catch {
                logger.error("watermark_read_failed", ["message": .string(error.description)])
                guard store.storage.isRemote else { return true }
                // Stopping already: nothing to give up.
                guard leadership.isServing else { return false }
                guard ContinuousClock.now < deadline else {
                    leadership.handle(.lost(reason: "the leader state could not be read from \(store.path): \(error.description)"))
                    return false
                }
                Sleep.for(.milliseconds(250))
            }
        }
    }

    /// The poll loop of the leader of `epoch`; returns only once stopping.
    func run(epoch: Int) {
        // Re-read the state: the previous leader moved it while this process waited as a standby.
        guard readState() else { return }
        // From now on every state write carries this epoch; an older leader's are refused. A
        // failure is the store's to log, and the retry loop's to mend.
        try? store.claim(epoch: epoch)
        NamedThread.detach(name: "state-retry") { [self] in retryStateWrites() }
        // The access workflow's outbox: timeouts, grant ends and the messages owed.
        NamedThread.detach(name: "access") { [access, leadership] in access.run(while: { leadership.isServing }) }
        let saved = store.current
        tracking.withLock { $0.progress = MessageProgress(watermark: saved.lastMessageID) }
        // The silence an alert measures starts with the leadership, not at the epoch.
        eventQueueAnswered()
        heartbeat()
        editor?.resume(saved.pendingEdits)

        var backoff = Backoff(initial: config.backoffInitial, maximum: config.backoffMax)
        guard let base = retrying("startup", &backoff, { () throws(ZulipError) -> DMHandler.Session in
            let settings = try zulip.serverSettings()
            let me = try zulip.ownUser()
            return DMHandler.Session(botID: me.user_id, featureLevel: settings.zulip_feature_level ?? 0)
        }) else { return }
        logger.info("zulip_connected", ["bot_id": .int(base.botID), "feature_level": .int(base.featureLevel)])

        var firstQueue = true
        while !stopping {
            guard let queue = register(base, &backoff) else { return }
            var ctx = base
            if let fl = queue.zulip_feature_level { ctx.featureLevel = fl }
            ctx.queueID = queue.queue_id
            tracking.withLock { [ctx] in $0.context = ctx }
            logger.info("queue_registered", ["queue_id": .string(queue.queue_id), "feature_level": .int(ctx.featureLevel)])
            if !directory.load(queue) {
                logger.error("user_directory_unavailable", [
                    "message": "register returned no realm_users, so no ACL email can be matched to a user and bots cannot be told apart; only numeric ACL entries grant codes",
                ])
            }
            loadGroups(queue)
            reportACL()
            // The saved watermark is judged once, against the first queue: later ones only
            // meet this leader's own, which never passes a message it saw.
            if firstQueue {
                firstQueue = false
                guard checkSavedWatermark(queue, ctx, &backoff) else { return }
            }
            // Before catch-up: what a previous leader left in doubt is settled (so its messages
            // are known as the bot's own), and votes by reaction made meanwhile are read.
            access.prepare(ctx)
            // Registered first, then caught up: nothing sent in between can slip through.
            if watermark == nil {
                guard initialiseWatermark(queue, ctx, &backoff) else { return }
            } else {
                guard catchUp(ctx, &backoff) else { return }
            }
            poll(queue, ctx, &backoff)
        }
    }

    /// Registers a queue under the leadership's eye: none is started once stopping, and one
    /// that arrives after the stop is not polled but left to the shutdown, which deletes it.
    /// nil once stopping.
    private func register(_ base: DMHandler.Session, _ backoff: inout Backoff) -> ZulipQueue? {
        let queue = retrying("register", &backoff) { () throws(ZulipError) -> ZulipQueue? in
            guard leadership.handle(.registering).contains(.register) else { return nil }
            let queue: ZulipQueue
            do throws(ZulipError) { queue = try zulip.register(featureLevel: base.featureLevel) } catch {
                leadership.handle(.registrationFailed)
                throw error
            }
            guard leadership.handle(.registered(queueID: queue.queue_id)).contains(.poll(queueID: queue.queue_id)) else { return nil }
            tracking.withLock { $0.patience.registered(longpollTimeoutSeconds: queue.event_queue_longpoll_timeout_seconds) }
            eventQueueAnswered()
            return queue
        }
        return queue ?? nil
    }

    /// Notes an answer from the event queue (`poll`: how long the poll waited for it).
    private func eventQueueAnswered(poll: Duration? = nil, heartbeat: Bool = false) {
        let limit = tracking.withLock { t -> Duration in
            if let poll { t.patience.answered(after: poll, heartbeat: heartbeat) }
            t.lastEventAnswer = .now
            return t.patience.limit
        }
        let now = Logger.wallClock()
        metrics.eventLastAnswer.set(Double(now.seconds) + Double(now.nanoseconds) / 1e9)
        metrics.eventPollLimit.set(limit.inSeconds)
    }

    /// First start: nothing to catch up. Everything after register's `max_message_id` reaches
    /// the queue, so that is where the watermark starts (asking for the newest DM after
    /// registering would skip one sent in between).
    private func initialiseWatermark(_ queue: ZulipQueue, _ ctx: DMHandler.Session, _ backoff: inout Backoff) -> Bool {
        let start: Int
        if let max = queue.max_message_id {
            // -1 when the bot can see no message yet; anchors must not be negative.
            start = Swift.max(0, max)
        } else {
            // Not sent by servers that ignore fetch_event_types: the newest DM is the best left.
            guard let newest = retrying("watermark_init", &backoff, { () throws(ZulipError) in
                try zulip.newestDirectMessageID(featureLevel: ctx.featureLevel)
            }) else { return false }
            start = newest
        }
        tracking.withLock { $0.progress.initialise(watermark: start) }
        persist { $0.advance(to: start) }
        logger.info("watermark_initialised", ["last_message_id": .int(start), "from": .string(queue.max_message_id == nil ? "newest_dm" : "register")])
        return true
    }

    /// A watermark beyond register's `max_message_id` (the newest message the bot can see)
    /// cannot have been written by a leader: the file was damaged or tampered with, and kept
    /// as it is every catch-up would start after every message there will ever be and answer
    /// nothing. It is refused (logged, counted) and replaced by the start of the catch-up
    /// window: just before the oldest DM younger than `BOT_CATCHUP_MAX_AGE`, else the newest
    /// message. Replies in that window are then paired in order (`LeaderState.repair`), so
    /// requests that were answered are not answered again. Returns false once stopping.
    private func checkSavedWatermark(_ queue: ZulipQueue, _ ctx: DMHandler.Session, _ backoff: inout Backoff) -> Bool {
        guard let saved = watermark, let newest = queue.max_message_id, saved > Swift.max(0, newest) else { return true }
        guard let recent = retrying("watermark_repair", &backoff, { () throws(ZulipError) in
            try zulip.newestDirectMessages(count: 1000, featureLevel: ctx.featureLevel)
        }) else { return false }
        let cutoff = Logger.wallClock().seconds - Int64(config.catchUpMaxAge)
        let start = recent.messages.filter { $0.timestamp >= cutoff }.map(\.id).min().map { $0 - 1 } ?? Swift.max(0, newest)
        metrics.watermarkRejected.inc()
        logger.error("watermark_beyond_newest", [
            "saved": .int(saved), "max_message_id": .int(newest), "replaced_by": .int(start),
            "message": "the saved watermark lies beyond the newest message on the Zulip server, so the state file was damaged or edited; catching up from the BOT_CATCHUP_MAX_AGE window instead",
        ])
        tracking.withLock { $0.progress = MessageProgress(watermark: start) }
        persist { $0.repair(watermark: start) }
        return true
    }

    /// Long-polls until the queue is gone (returns to re-register) or stopping.
    private func poll(_ queue: ZulipQueue, _ ctx: DMHandler.Session, _ backoff: inout Backoff) {
        var lastEventID = queue.last_event_id
        while !stopping {
            let limit = tracking.withLock { $0.patience.limit }
            let sent = ContinuousClock.now
            do {
                let events = try zulip.events(queueID: queue.queue_id, lastEventID: lastEventID, timeout: limit)
                let received = ContinuousClock.now
                eventQueueAnswered(poll: received - sent, heartbeat: events.contains { $0.type == "heartbeat" })
                heartbeat()
                backoff.reset()
                if stopping { return }
                for event in events {
                    lastEventID = max(lastEventID, event.id)
                    if event.type == "realm_user" {
                        // Before any message after it is handed out: a sender's new email or
                        // a new bot is known by the time their next DM is judged.
                        if directory.apply(event) {
                            reportACL()
                            // A deactivated user gets nothing more: requests, grants, votes.
                            access.accessChanged()
                        }
                        continue
                    }
                    if event.type == "user_group" {
                        // A member removed from a group loses what it gave at once.
                        if groups.apply(event) {
                            reportGroups()
                            access.accessChanged()
                        }
                        continue
                    }
                    if event.type == "reaction" {
                        access.reaction(event)
                        continue
                    }
                    guard event.type == "message", var message = event.message else { continue }
                    if let flags = event.flags { message.flags = flags }
                    receive(message, ctx, received: received, caughtUp: false, localID: event.local_message_id)
                }
                if retryCatchUpDue() {
                    guard catchUp(ctx, &backoff) else { return }
                }
            } catch {
                heartbeat()
                if stopping { return }
                // The limit passed (not the connect timeout, which comes far sooner): stuck.
                let waited = ContinuousClock.now - sent
                if error.code == .network, error.timedOut, waited >= limit * 9 / 10 {
                    metrics.eventPollsAbandoned.inc()
                    logger.warning("events_poll_abandoned", [
                        "queue_id": .string(queue.queue_id), "last_event_id": .int(lastEventID),
                        "waited_ms": .int(Int(waited.inMilliseconds)), "limit_ms": .int(Int(limit.inMilliseconds)),
                        "message": "no answer to the long-poll within the limit (Zulip answers each within its heartbeat interval): a connection on the way was dropped; polling again with the same last_event_id, which loses nothing",
                    ])
                    continue
                }
                switch error.code {
                case .badEventQueue:
                    logger.warning("queue_lost", ["queue_id": .string(queue.queue_id), "error": .string(error.description)])
                    leadership.handle(.queueLost)
                    return
                case .badRequest:
                    // Not a lost queue: something about the poll is refused. Register again
                    // (a fresh queue and event id), but only after backing off.
                    logger.warning("events_refused", ["queue_id": .string(queue.queue_id), "error": .string(error.description)])
                    wait(seconds: backoff.next().inSeconds, what: "events", error: error)
                    return
                case .unauthorized:
                    credentialsRejected()
                case .rateLimited:
                    wait(seconds: min(error.retryAfter ?? 1, 300), what: "events", error: error)
                case .server, .network, .decoding:
                    wait(seconds: backoff.next().inSeconds, what: "events", error: error)
                }
            }
        }
    }

    /// Logs each ACL email whose resolution (one account, nobody, several) is new or changed:
    /// all of them after the first register, then only what a user change altered.
    private func reportACL() {
        let now = config.acl.resolutions(in: directory)
        let changed = tracking.withLock { t -> [(String, AccessList.EmailResolution)] in
            let before = t.aclReported ?? [:]
            t.aclReported = now
            return now.filter { before[$0.key] != $0.value }.sorted { $0.key < $1.key }
        }
        for (email, resolution) in changed {
            switch resolution {
            case .user(let id):
                logger.info("acl_email_resolved", ["email": .string(email), "user_id": .int(id)])
            case .nobody:
                logger.warning("acl_email_unresolved", [
                    "email": .string(email),
                    "message": "no active Zulip account the bot can see has this email, so the entry grants nothing; check the address, the user's email visibility, or use the numeric user id",
                ])
            case .ambiguous(let ids):
                logger.warning("acl_email_ambiguous", [
                    "email": .string(email), "user_ids": .string(ids.map(String.init).joined(separator: ",")),
                    "message": "several active accounts have this email (one as its Zulip API email, another as its delivery email), so the entry grants nothing; use the numeric user id",
                ])
            }
        }
        metrics.aclUnresolved.set(Double(now.values.filter { if case .user = $0 { false } else { true } }.count))
    }

    /// Register's groups. A configuration that names groups (`@name` in BOT_ACL or BOT_POLICY)
    /// cannot work without them: the bot says so and exits 2. Otherwise their absence is noted.
    private func loadGroups(_ queue: ZulipQueue) {
        let needed = !config.acl.groups.isEmpty || config.policies.namesGroups
        guard groups.load(queue) else {
            if needed {
                configurationUnusable(
                    "the Zulip server gave the bot no user groups (POST /register returned no realm_user_groups), but BOT_ACL or BOT_POLICY name groups (@name); name people (emails or user ids) instead, or use a Zulip server that lists groups to bots")
            }
            logger.info("user_groups_unavailable", ["message": "register returned no realm_user_groups; the configuration names no group, so none is needed"])
            return
        }
        reportGroups()
    }

    /// Logs each group the configuration names whose existence is new or changed: a name
    /// that matches no group (or two) grants and approves nothing.
    private func reportGroups() {
        let named = Set(config.acl.groups + config.policies.principals.compactMap { if case .group(let n) = $0 { n } else { nil } })
        var now: [String: Bool] = [:]
        for name in named { now[name] = groups.members(of: name) != nil }
        let changed = tracking.withLock { t -> [(String, Bool)] in
            let before = t.groupsReported ?? [:]
            t.groupsReported = now
            return now.filter { before[$0.key] != $0.value }.sorted { $0.key < $1.key }
        }
        for (name, found) in changed {
            if found {
                logger.info("group_resolved", ["group": .string(name), "members": .int(groups.members(of: name)?.count ?? 0)])
            } else {
                logger.warning("group_unresolved", [
                    "group": .string(name),
                    "message": "no Zulip user group (or more than one) has this name, so it grants and approves nothing; check the name in BOT_ACL / BOT_POLICY",
                ])
            }
        }
    }

    /// DMs after the watermark, each answered once if young enough (see `CatchUpPlan`); also
    /// retries replies that failed.
    private func catchUp(_ ctx: DMHandler.Session, _ backoff: inout Backoff) -> Bool {
        let start = watermark ?? 0
        let retry = tracking.withLock { $0.catchUpWanted }
        // A first-version state file: fetch the watermark's own message too (see CatchUpPlan).
        var anchor = store.current.legacy ? max(0, start - 1) : start
        var fetched: [ZulipMessage] = []
        for _ in 0..<20 {
            guard let page = retrying("catch_up", &backoff, { () throws(ZulipError) in
                try zulip.directMessages(after: anchor, count: 1000, featureLevel: ctx.featureLevel)
            }) else { return false }
            fetched += page.messages.filter { $0.id > anchor }
            guard let last = page.messages.map(\.id).max(), last > anchor, page.found_newest != true else { break }
            anchor = last
        }
        let received = ContinuousClock.now
        let (taken, busy) = tracking.withLock { t in
            (Set(fetched.map(\.id).filter { t.progress.isTaken($0) }),
             Set(fetched.filter { t.progress.isInProgress($0.id) }.map(\.sender_id)))
        }
        // Read after `busy`: a sender not busy now finished, and recorded its reply, before this.
        let saved = store.current
        let plan = CatchUpPlan(
            messages: fetched, botID: ctx.botID, now: Logger.wallClock().seconds, maxAge: config.catchUpMaxAge,
            replies: saved.replies, sending: saved.sending, noReply: saved.noReply, legacy: saved.legacy, taken: taken, busy: busy,
            watermark: start, sentOnItsOwn: saved.access.sentMessageIDs)
        logger.info("catch_up", [
            "from": .int(start), "fetched": .int(fetched.count), "to_answer": .int(plan.toAnswer.count),
            "already_answered": .int(plan.alreadyAnswered), "too_old": .int(plan.tooOld), "in_progress": .int(taken.count),
            "deferred": .int(plan.deferred), "retry": .bool(retry),
        ])
        persist { state in
            for (request, reply) in plan.inferredReplies { state.recordReply(to: request, replyID: reply) }
            state.legacy = false
        }
        tracking.withLock { t in
            for id in plan.settled { t.progress.claim(id) }
            t.catchUpWanted = plan.deferred > 0
            t.lastCatchUp = .now
        }
        settle(plan.settled)
        for message in plan.toAnswer { receive(message, ctx, received: received, caughtUp: true, localID: nil) }
        return true
    }

    /// Takes one message (from the queue or a catch-up) unless it was taken before.
    private func receive(_ message: ZulipMessage, _ ctx: DMHandler.Session, received: ContinuousClock.Instant, caughtUp: Bool,
                         localID: String?) {
        guard tracking.withLock({ $0.progress.claim(message.id) }) else { return }
        if message.sender_id == ctx.botID {
            // The bot's own message. With a local_id it is the echo of a reply: proof that the
            // reply exists even if its POST got no answer.
            if let localID, let key = OutboxSender.key(fromLocalID: localID) {
                // The echo of an outbox message: sent, even if its POST got no answer.
                persist { $0.access.recordEcho(key, messageID: message.id) }
            }
            if let localID, let requestID = ReplySender.requestID(fromLocalID: localID) {
                persist { if $0.replies[requestID] == nil { $0.recordReply(to: requestID, replyID: message.id) } }
                let wasFailed = tracking.withLock { $0.progress.failed.contains(requestID) }
                if wasFailed {
                    logger.info("reply_confirmed_by_echo", ["in_reply_to": .int(requestID), "message_id": .int(message.id)])
                    settle(requestID)
                }
            }
            settle(message.id)
            return
        }
        dispatcher.submit(key: message.sender_id) { [self] in
            // Stopping: leave it to the next leader (it stays open, so the watermark waits).
            guard !stopping else { return }
            // Nothing is answered that could not be put on record.
            guard store.writeFailure == nil else { return park(message) }
            logger.info("dm_received", ["message_id": .int(message.id), "sender_id": .int(message.sender_id), "caught_up": .bool(caughtUp)])
            let handled = handler.handle(message, session: ctx, received: received)
            if handled.settled {
                settle(message.id)
            } else if handled.outcome == .stateUnwritable {
                park(message)
            } else {
                tracking.withLock { t in
                    t.progress.fail(message.id)
                    t.catchUpWanted = true
                }
            }
        }
    }

    /// Leaves `message` open until the state can be saved again (`retryStateWrites`).
    private func park(_ message: ZulipMessage) {
        tracking.withLock { t in
            t.progress.fail(message.id)
            t.parked[message.id] = message
        }
        logger.info("dm_parked", ["message_id": .int(message.id), "sender_id": .int(message.sender_id),
                                  "message": "not answered while the state cannot be saved; answered once it can"])
    }

    /// Runs for as long as this process leads: while writes fail, retries them every
    /// `stateRetryInterval`; once they succeed, answers the parked DMs.
    private func retryStateWrites() {
        while !stopping {
            Sleep.for(Self.stateRetryInterval)
            guard store.retryWrite() else { continue }
            let (waiting, ctx) = tracking.withLock { t -> ([ZulipMessage], DMHandler.Session?) in
                // A catch-up may have taken one meanwhile: only those still waiting.
                let list = t.parked.values.filter { t.progress.failed.contains($0.id) }.sorted { $0.id < $1.id }
                t.parked = [:]
                return (list, t.context)
            }
            guard let ctx, !waiting.isEmpty, !stopping else { continue }
            let now = Logger.wallClock().seconds
            let received = ContinuousClock.now
            for message in waiting {
                if now - message.timestamp > Int64(config.catchUpMaxAge) {
                    // As a catch-up would: a code for a request this old helps nobody.
                    guard tracking.withLock({ $0.progress.claim(message.id) }) else { continue }
                    logger.info("dm_too_old", ["message_id": .int(message.id), "message": "waited longer than BOT_CATCHUP_MAX_AGE for the state directory; not answered"])
                    settle(message.id)
                } else {
                    receive(message, ctx, received: received, caughtUp: true, localID: nil)
                }
            }
        }
    }

    private func settle(_ id: Int) { settle([id]) }

    /// Settles `ids` and saves the watermark once, if it moved.
    private func settle(_ ids: [Int]) {
        let moved = tracking.withLock { t -> Int? in
            for id in ids { t.progress.settle(id) }
            return t.progress.advance()
        }
        if let moved { persist { $0.advance(to: moved) } }
    }

    private func retryCatchUpDue() -> Bool {
        tracking.withLock { t in
            guard t.catchUpWanted else { return false }
            guard let last = t.lastCatchUp else { return true }
            return ContinuousClock.now - last >= Self.retryCatchUpInterval
        }
    }

    /// A failure is the store's to log and count; the change stays in memory for the next write.
    private func persist(_ change: (inout LeaderState) -> Void) {
        try? store.update(change)
    }

    // MARK: - Watchdog

    /// A Zulip call returned: the loop turns. Says once when a message has been waiting or
    /// running for longer than `BOT_WATCHDOG_STALL_SECONDS` (the reply path is stuck, and a
    /// restart is the cure: `watchdogProblem` withholds the pings).
    private func heartbeat() {
        let oldest = dispatcher.oldestUnfinished()
        let stalled = oldest.map { $0 > config.watchdogStall } ?? false
        let report = tracking.withLock { t -> Bool in
            t.lastBeat = .now
            defer { t.stallReported = stalled }
            return stalled && !t.stallReported
        }
        if report {
            logger.error("reply_path_stalled", [
                "oldest_ms": .int(Int(oldest?.inMilliseconds ?? 0)),
                "message": "a DM has waited or been answered for longer than BOT_WATCHDOG_STALL_SECONDS; no more watchdog pings, so systemd restarts the bot",
            ])
        }
    }

    /// Why the leader should not be reported alive, for the lifecycle's watchdog: a message
    /// waiting or running longer than `BOT_WATCHDOG_STALL_SECONDS`, or a loop whose last Zulip
    /// call returned longer than `stallLimit` ago (nil: healthy).
    func watchdogProblem(stallLimit: Duration) -> String? {
        if let oldest = dispatcher.oldestUnfinished(), oldest > config.watchdogStall {
            return "a DM has waited or been answered for \(oldest.wholeSeconds) s, longer than BOT_WATCHDOG_STALL_SECONDS"
        }
        let beat = tracking.withLock { $0.lastBeat }
        if let beat, .now - beat > stallLimit {
            return "the Zulip loop has not come back from a call for \((ContinuousClock.now - beat).wholeSeconds) s"
        }
        return nil
    }

    // MARK: - Shutdown

    /// Stops taking events (the leadership already says stopping, so the poll loop ends):
    /// queued messages are left to the next leader.
    func stopTakingEvents() {
        let dropped = dispatcher.stop()
        if dropped > 0 {
            logger.info("shutdown_messages_left", ["count": .int(dropped), "message": "not started; the next leader's catch-up answers them"])
        }
    }

    /// Waits until the messages being answered (if any) are done.
    @discardableResult
    func waitForInFlight(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        let replies = dispatcher.waitUntilIdle(timeout: timeout)
        // A message of the access workflow being sent finishes too (or is settled next time).
        return access.waitUntilIdle(timeout: max(.zero, deadline - .now)) && replies
    }

    /// Deletes a queue (a shutdown step, after `stopTakingEvents`).
    func deleteQueue(_ queueID: String, timeout: Duration) -> Bool {
        do {
            try zulip.deleteQueue(queueID, timeout: timeout)
            return true
        } catch {
            logger.warning("queue_delete_failed", ["queue_id": .string(queueID), "error": .string(error.description)])
            return false
        }
    }

    // MARK: - Retry helpers

    /// Runs `body` until it succeeds, backing off on transient errors; nil once stopping. A
    /// success does not reset the back-off: only a successful poll proves the loop works, so
    /// a poll refused every time (with a register and a catch-up succeeding in between) keeps
    /// backing off instead of turning into a hot loop.
    private func retrying<T>(_ what: String, _ backoff: inout Backoff, _ body: () throws(ZulipError) -> T) -> T? {
        while !stopping {
            do {
                let value = try body()
                heartbeat()
                return value
            } catch {
                heartbeat()
                switch error.code {
                case .unauthorized:
                    credentialsRejected()
                case .rateLimited:
                    wait(seconds: min(error.retryAfter ?? 1, 300), what: what, error: error)
                default:
                    wait(seconds: backoff.next().inSeconds, what: what, error: error)
                }
            }
        }
        return nil
    }

    private func wait(seconds: Double, what: String, error: ZulipError) {
        logger.warning("zulip_retry", ["call": .string(what), "wait_ms": .int(Int(seconds * 1000)), "error": .string(error.description)])
        // Sleep in slices so the watchdog keeps being fed during a long wait.
        var left = seconds
        while left > 0 && !stopping {
            let slice = min(left, 30)
            Sleep.seconds(slice)
            left -= slice
            heartbeat()
        }
    }

}
