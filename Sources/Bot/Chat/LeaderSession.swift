import Dispatch
import Shared
import Synchronization

/// What the leader does with Zulip: learn its id and the feature level, register a DM queue,
/// catch up from the watermark, then long-poll, handing messages in id order to one serial
/// handler queue. Expired queues are re-registered (and caught up), 429s wait `Retry-After`,
/// 5xx and network errors back off exponentially with jitter, 401 ends the process (exit 3).
///
/// ```swift
/// let session = LeaderSession(...)
/// BotThread.spawn(name: "zulip") { session.run() }
/// // shutdown:
/// session.beginStopping(); session.waitForInFlight(timeout: .seconds(15)); session.deleteQueue()
/// ```
final class LeaderSession: Sendable {
    /// Lifecycle of the leader's session: serving Zulip, or stopping after SIGTERM.
    enum State: Sendable, Equatable {
        case starting
        case registered(queueID: String)
        case stopping
    }

    private let config: BotConfiguration
    private let zulip: ZulipClient
    private let handler: DMHandler
    private let watermark: WatermarkStore
    private let logger: Logger
    private let ping: @Sendable () -> Void
    private let state = Mutex<State>(.starting)
    private let handlerQueue = DispatchQueue(label: "dm-handler")
    private let session = Mutex<DMHandler.Session?>(nil)

    init(config: BotConfiguration, zulip: ZulipClient, handler: DMHandler, watermark: WatermarkStore, logger: Logger,
         ping: @escaping @Sendable () -> Void) {
        self.config = config
        self.zulip = zulip
        self.handler = handler
        self.watermark = watermark
        self.logger = logger
        self.ping = ping
    }

    var current: State { state.withLock { $0 } }
    private var stopping: Bool { current == .stopping }

    /// The poll loop; returns only once stopping.
    func run() {
        var backoff = Backoff(initial: config.backoffInitial, maximum: config.backoffMax)
        guard let base = retrying("startup", &backoff, { () throws(ZulipError) -> DMHandler.Session in
            let settings = try zulip.serverSettings()
            let me = try zulip.ownUser()
            return DMHandler.Session(botID: me.user_id, featureLevel: settings.zulip_feature_level ?? 0)
        }) else { return }
        session.withLock { $0 = base }
        logger.info("zulip_connected", ["bot_id": .int(base.botID), "feature_level": .int(base.featureLevel)])

        while !stopping {
            guard let queue = retrying("register", &backoff, { () throws(ZulipError) in try zulip.register(featureLevel: base.featureLevel) }) else { return }
            var ctx = base
            if let fl = queue.zulip_feature_level { ctx.featureLevel = fl }
            let registered = state.withLock { s -> Bool in
                guard s != .stopping else { return false }
                s = .registered(queueID: queue.queue_id)
                return true
            }
            guard registered else {
                _ = try? zulip.deleteQueue(queue.queue_id)
                return
            }
            logger.info("queue_registered", ["queue_id": .string(queue.queue_id), "feature_level": .int(ctx.featureLevel)])
            // Registered first, then caught up: nothing sent in between can slip through.
            guard catchUp(ctx, &backoff) else { return }
            poll(queue, ctx, &backoff)
        }
    }

    /// Long-polls until the queue is gone (returns to re-register) or stopping.
    private func poll(_ queue: ZulipQueue, _ ctx: DMHandler.Session, _ backoff: inout Backoff) {
        var lastEventID = queue.last_event_id
        let timeout = Duration.seconds(max(queue.event_queue_longpoll_timeout_seconds ?? 90, 90) + 10)
        while !stopping {
            do {
                let events = try zulip.events(queueID: queue.queue_id, lastEventID: lastEventID, timeout: timeout)
                ping()
                backoff.reset()
                if stopping { return }
                for event in events {
                    lastEventID = max(lastEventID, event.id)
                    guard event.type == "message", var message = event.message else { continue }
                    if let flags = event.flags { message.flags = flags }
                    enqueue(message, ctx, caughtUp: false)
                }
            } catch {
                ping()
                if stopping { return }
                switch error.code {
                case .badEventQueue, .badRequest:
                    logger.warning("queue_lost", ["queue_id": .string(queue.queue_id), "error": .string(error.description)])
                    return
                case .unauthorized:
                    BotRunner.fatalCredentials(logger: logger)
                case .rateLimited:
                    wait(seconds: min(error.retryAfter ?? 1, 300), what: "events", error: error)
                case .server, .network, .decoding:
                    wait(seconds: seconds(backoff.next()), what: "events", error: error)
                }
            }
        }
    }

    /// DMs after the watermark, answered once each if young enough; a message the bot has
    /// already answered (a later bot message in that conversation) is skipped.
    private func catchUp(_ ctx: DMHandler.Session, _ backoff: inout Backoff) -> Bool {
        // Re-read the file: the previous leader moved it while this process waited as a standby.
        do { _ = try watermark.load() } catch {
            logger.error("watermark_read_failed", ["message": .string(error.description)])
        }
        guard let start = watermark.current else {
            // First start: nothing to catch up; begin at the newest DM.
            guard let newest = retrying("watermark_init", &backoff, { () throws(ZulipError) in try zulip.newestDirectMessageID(featureLevel: ctx.featureLevel) }) else { return false }
            _ = try? watermark.advance(to: newest)
            logger.info("watermark_initialised", ["last_message_id": .int(newest)])
            return true
        }
        var anchor = start
        var fetched: [ZulipMessage] = []
        for _ in 0..<20 {
            guard let page = retrying("catch_up", &backoff, { () throws(ZulipError) in
                try zulip.directMessages(after: anchor, count: 1000, featureLevel: ctx.featureLevel)
            }) else { return false }
            fetched += page.messages.filter { $0.id > anchor }
            guard let last = page.messages.map(\.id).max(), last > anchor, page.found_newest != true else { break }
            anchor = last
        }
        let now = Logger.wallClock().seconds
        let plan = CatchUpPlan(messages: fetched, botID: ctx.botID, now: now, maxAge: config.catchUpMaxAge)
        logger.info("catch_up", [
            "from": .int(start), "fetched": .int(fetched.count), "to_answer": .int(plan.toAnswer.count),
            "already_answered": .int(plan.alreadyAnswered), "too_old": .int(plan.tooOld),
        ])
        for message in plan.toAnswer { enqueue(message, ctx, caughtUp: true) }
        // Everything else up to the newest fetched id is settled: record it after the answers.
        if let last = fetched.map(\.id).max() {
            handlerQueue.async { [watermark, logger] in
                do { try watermark.advance(to: last) } catch { logger.error("watermark_write_failed", ["error": .string("\(error)")]) }
            }
        }
        return true
    }

    private func enqueue(_ message: ZulipMessage, _ ctx: DMHandler.Session, caughtUp: Bool) {
        handlerQueue.async { [self] in
            // Stopping: leave it to the next leader (the watermark does not move).
            guard !stopping else { return }
            if let mark = watermark.current, message.id <= mark { return }
            if message.sender_id != ctx.botID {
                logger.info("dm_received", ["message_id": .int(message.id), "sender_id": .int(message.sender_id), "caught_up": .bool(caughtUp)])
            }
            handler.handle(message, session: ctx)
            do { try watermark.advance(to: message.id) } catch {
                logger.error("watermark_write_failed", ["error": .string("\(error)")])
            }
        }
    }

    // MARK: - Shutdown

    /// Stops taking events: the poll loop ends, queued messages are left to the next leader.
    func beginStopping() {
        state.withLock { $0 = .stopping }
    }

    /// Waits until the message being answered (if any) is done.
    @discardableResult
    func waitForInFlight(timeout: Duration) -> Bool {
        let done = DispatchSemaphore(value: 0)
        handlerQueue.async { done.signal() }
        let ms = Int(timeout.components.seconds * 1000)
        return done.wait(timeout: .now() + .milliseconds(ms)) == .success
    }

    /// Deletes the registered queue, if any (call after `beginStopping`).
    func deleteQueue(_ queueID: String) -> Bool {
        do {
            try zulip.deleteQueue(queueID)
            return true
        } catch {
            logger.warning("queue_delete_failed", ["queue_id": .string(queueID), "error": .string(error.description)])
            return false
        }
    }

    // MARK: - Retry helpers

    /// Runs `body` until it succeeds, backing off on transient errors; nil once stopping.
    private func retrying<T>(_ what: String, _ backoff: inout Backoff, _ body: () throws(ZulipError) -> T) -> T? {
        while !stopping {
            do {
                let value = try body()
                backoff.reset()
                return value
            } catch {
                ping()
                switch error.code {
                case .unauthorized:
                    BotRunner.fatalCredentials(logger: logger)
                case .rateLimited:
                    wait(seconds: min(error.retryAfter ?? 1, 300), what: what, error: error)
                default:
                    wait(seconds: seconds(backoff.next()), what: what, error: error)
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
            ping()
        }
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
