#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Platform
import HTTPServer
import Synchronization
import CurlHTTP

/// Runs the bot: configure, serve /healthz and /metrics, tell systemd READY=1, wait for the
/// leader lock (pinging the watchdog), then lead (`LeaderSession`). SIGTERM/SIGINT: a standby
/// just exits; a leader stops taking events, finishes the replies in progress, does its pending
/// expiry edits, deletes its queue, and releases the lock last, all within `shutdownBudget`.
/// A second signal exits at once (1).
enum BotRunner {
    /// What this process is doing in the election: waiting for the lock, or leading.
    enum Role: Sendable, Equatable {
        case standby
        case leader
        case stopping
    }

    static let credentialsMessage = "Zulip rejected the bot's credentials (check ZULIP_EMAIL / ZULIP_API_KEY)"

    /// SIGTERM to exit: under the unit's TimeoutStopSec=20s, after which systemd kills.
    static let shutdownBudget: Duration = .seconds(18)

    /// How often the leader checks that its lock files are still the files it locked (a
    /// reply is also checked just before it is sent).
    static let lockCheckInterval: Duration = .milliseconds(250)

    /// Exit 3 after a 401: retrying cannot help, and a supervisor should not hide it.
    static func fatalCredentials(logger: Logger) -> Never {
        logger.error("zulip_unauthorized", ["message": .string(credentialsMessage)])
        BotMain.printError("totp-bot: " + credentialsMessage)
        exit(3)
    }

    static func run(config: BotConfiguration) -> Never {
        let logger = Logger(component: "bot", minimumLevel: config.logLevel)
        let metrics = BotMetrics()
        let role = Mutex<Role>(.standby)
        logger.info("starting", [
            "version": .string(HelpText.version), "zulip_site": .string(config.zulipSite), "gateways": .int(config.gatewayURLs.count),
            "acl_entries": .int(config.acl.count), "lock_file": .string(config.lockFile), "state_dir": .string(config.stateDir),
        ])
        if config.acl.isEmpty {
            logger.warning("acl_empty", ["message": "the access list is empty: nobody will get a code; set BOT_ACL or BOT_ACL_FILE"])
        }

        // The lock file was deleted or replaced, or a newer leader wrote the state file: another
        // bot may lead now. Stop acting at once and leave; the supervisor restarts this process
        // as a standby (a clean way back, with no half-torn-down session to reason about).
        let exiting = Mutex(false)
        let leadershipLost: @Sendable (String) -> Void = { reason in
            guard exiting.withLock({ e -> Bool in defer { e = true }; return !e }) else { return }
            role.withLock { $0 = .stopping }
            metrics.leader.set(0)
            logger.error("leader_lock_lost", [
                "reason": .string(reason),
                "message": "another bot may lead now, so this one stops answering and exits (1) for its supervisor to restart it as a standby; never delete or replace BOT_LOCK_FILE or BOT_STATE_DIR/leader.lock while bots run",
            ])
            BotMain.printError("totp-bot: lost the leader lock: \(reason)")
            exit(1)
        }
        let store = LeaderStateStore(directory: config.stateDir, logger: logger, metrics: metrics, onSuperseded: leadershipLost)
        do { try store.load() } catch {
            BotMain.printError("totp-bot: \(error.description)")
            exit(2)
        }
        let lock: LeaderLock
        do {
            lock = try LeaderLock(
                path: config.lockFile, stateLock: LeaderStateStore.lockPath(in: config.stateDir),
                minimumEpoch: { [stateDir = config.stateDir] in LeaderStateStore.epochOnDisk(directory: stateDir) }, logger: logger)
        } catch {
            BotMain.printError("totp-bot: \(error.description)")
            exit(2)
        }
        // Checked before every reply is sent, besides the lock's own monitoring.
        let stillLeader: @Sendable () -> Bool = {
            if exiting.withLock({ $0 }) { return false }
            guard let problem = lock.verify() else { return true }
            leadershipLost(problem)
            return false
        }

        CurlRuntime.initializeOnce()
        let zulipHTTP = HTTPClient(options: HTTPClientOptions(userAgent: "totp-bot/\(HelpText.version)", caFile: config.zulipCAFile))
        let zulip = ZulipClient(
            apiBase: config.zulipAPIBase, email: config.zulipEmail, apiKey: config.zulipAPIKey, http: zulipHTTP,
            onSuccess: { metrics.zulipLastSuccess.set(Double(Logger.wallClock().seconds)) },
            onError: { metrics.zulipErrors.labels($0.kind).inc() })
        let gateway = GatewayClient(
            configuration: GatewayClientConfiguration(
                baseURLs: config.gatewayURLs, token: config.gatewayToken, caFile: config.gatewayCAFile,
                perAttemptTimeout: config.gatewayAttemptTimeout, overallDeadline: config.gatewayDeadline,
                userAgent: "totp-bot/\(HelpText.version)"),
            http: HTTPClient(options: HTTPClientOptions(userAgent: "totp-bot/\(HelpText.version)", caFile: config.gatewayCAFile)),
            logger: logger.with(component: "gateway-client"))
        metrics.attach(gateway: gateway)

        var startedServer: HTTPServer? = nil
        if let listen = config.listen {
            var httpConfig = HTTPServerConfiguration()
            httpConfig.host = listen.host
            httpConfig.port = listen.port
            httpConfig.eventLoops = 1
            let s = HTTPServer(configuration: httpConfig, logger: logger.with(component: "http")) { request in
                health(request, role: role.withLock { $0 }, stateFailure: store.writeFailure, metrics: metrics)
            }
            do {
                let port = try s.start()
                logger.info("listening", ["address": .string("\(listen.host):\(port)"), "port": .int(port)])
            } catch {
                BotMain.printError("totp-bot: cannot listen on BOT_LISTEN \(listen.host):\(listen.port): \(error)")
                exit(2)
            }
            startedServer = s
        }
        let server = startedServer

        let notifier = SystemdNotifier()
        let ping: @Sendable () -> Void = { _ = try? notifier.watchdog() }
        // Edits left by a previous leader are done even with BOT_EXPIRY_EDIT=0 (it promised them).
        let editor = ExpiryEditor(logger: logger, metrics: metrics, store: store) { (id, text, timeout) throws(ZulipError) in
            try zulip.editMessage(id, content: text, timeout: timeout)
        }
        let directory = UserDirectory()
        let handler = DMHandler(
            sender: ReplySender(zulip: zulip, store: store, deadline: config.replyDeadline, mayAct: stillLeader, logger: logger),
            gateway: gateway, acl: config.acl, directory: directory,
            limiter: UserRateLimiter(burst: config.userRateBurst, perMinute: config.userRatePerMinute),
            editor: config.expiryEdit ? editor : nil, editDelay: config.expiryEditDelay, metrics: metrics, logger: logger)
        let session = LeaderSession(
            config: config, zulip: zulip, handler: handler, directory: directory, store: store, editor: editor, metrics: metrics,
            logger: logger, ping: ping)

        // READY before blocking on the lock: a standby is a healthy, started service.
        _ = try? notifier.ready()
        _ = try? notifier.status("standby: waiting for the leader lock")
        let control = DispatchQueue(label: "bot-control")
        var sources: [any DispatchSourceProtocol] = []
        if let interval = notifier.watchdogPingInterval {
            // Only the standby pings from a timer; the leader pings from its Zulip loop, so a
            // stuck loop is caught by the watchdog.
            let timer = DispatchSource.makeTimerSource(queue: control)
            let ms = Int(interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000)
            timer.schedule(deadline: .now(), repeating: .milliseconds(max(ms, 100)))
            timer.setEventHandler { if role.withLock({ $0 }) == .standby { ping() } }
            timer.resume()
            sources.append(timer)
        }
        logger.info("standby", ["lock_file": .string(config.lockFile), "message": "waiting for the leader lock"])

        lock.acquireInBackground(onAcquired: { record in
            let lead = role.withLock { r -> Bool in
                guard r == .standby else { return false }
                r = .leader
                return true
            }
            guard lead else { return }
            metrics.leader.set(1)
            metrics.epoch.set(Double(record.epoch))
            _ = try? notifier.status("leader (epoch \(record.epoch))")
            ping()
            logger.info("leader", ["epoch": .int(record.epoch), "pid": .int(record.pid), "host": .string(record.host)])
            lock.startMonitoring(every: lockCheckInterval, onLost: leadershipLost)
            // This dedicated thread becomes the Zulip loop.
            session.run(epoch: record.epoch)
        }, onError: { failure in
            logger.error("lock_failed", ["error": .string(failure.description)])
            BotMain.printError("totp-bot: \(failure.description)")
            exit(1)
        })

        let stop = { (signalName: String) in
            let previous = role.withLock { r -> Role in
                let p = r
                r = .stopping
                return p
            }
            switch previous {
            case .stopping:
                logger.warning("stopping_now", ["signal": .string(signalName)])
                exit(1)
            case .standby:
                _ = try? notifier.stopping()
                lock.release()
                logger.info("stopped", ["signal": .string(signalName), "role": "standby"])
                exit(0)
            case .leader:
                _ = try? notifier.stopping()
                // Off the control queue, so a second signal is still handled.
                DispatchQueue(label: "bot-shutdown").async {
                    shutdownLeader(session: session, editor: editor, lock: lock, metrics: metrics, server: server, logger: logger, signalName: signalName)
                }
            }
        }
        for (sig, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: control)
            source.setEventHandler { stop(name) }
            source.resume()
            sources.append(source)
        }
        signal(SIGPIPE, SIG_IGN)
        withExtendedLifetime(sources) { dispatchMain() }
    }

    /// The documented order: stop taking events, finish in-flight replies, do the pending
    /// expiry edits (early: the codes expire within their period anyway), delete the queue,
    /// release the lock last. Each step has a share of `shutdownBudget`; edits not done in time
    /// stay in the state file for the next leader.
    static func shutdownLeader(session: LeaderSession, editor: ExpiryEditor, lock: LeaderLock, metrics: BotMetrics,
                               server: HTTPServer?, logger: Logger, signalName: String) -> Never {
        let end = ContinuousClock.now + shutdownBudget
        let queueID: String? = if case .registered(let id) = session.current { id } else { nil }
        session.beginStopping()
        logger.info("shutdown_events_stopped", ["signal": .string(signalName)])
        // A reply takes at most the gateway deadline plus BOT_REPLY_DEADLINE_MS (4 + 10 s by default).
        let finished = session.waitForInFlight(timeout: end - .now - .seconds(5))
        logger.info("shutdown_inflight_finished", ["complete": .bool(finished)])
        let (edited, left) = editor.flush(until: end - .seconds(2))
        logger.info("shutdown_edits_flushed", ["edited": .int(edited), "left": .int(left)])
        if left > 0 {
            logger.warning("expiry_edits_left", ["count": .int(left), "message": "not done in time; they stay in BOT_STATE_DIR for the next leader"])
        }
        if let queueID {
            let deleted = session.deleteQueue(queueID, timeout: max(.milliseconds(500), end - .now - .milliseconds(500)))
            logger.info("shutdown_queue_deleted", ["queue_id": .string(queueID), "deleted": .bool(deleted)])
        }
        metrics.leader.set(0)
        lock.release()
        logger.info("shutdown_lock_released", [:])
        server?.stopNow()
        logger.info("stopped", ["signal": .string(signalName), "role": "leader"])
        exit(0)
    }

    /// `/healthz`: 200 `{"status":"ok","role":...}`; 503 while stopping, and for a leader that
    /// cannot save its state (`"status":"degraded"`, with the reason): it answers no DM then.
    static func health(_ request: HTTPRequest, role: Role, stateFailure: String?, metrics: BotMetrics) -> HTTPResponse {
        switch request.path {
        case "/healthz":
            let name = role == .leader ? "leader" : role == .standby ? "standby" : "stopping"
            let degraded = role == .leader ? stateFailure : nil
            var body = "{\"status\":\"\(role == .stopping ? "stopping" : degraded == nil ? "ok" : "degraded")\",\"role\":\"\(name)\""
            if let degraded {
                body += ",\"reason\":\"state_not_writable\",\"message\":"
                JSONText.appendString("the state in BOT_STATE_DIR cannot be saved, so no DM is answered: \(degraded)", to: &body)
            }
            body += "}"
            let ok = role != .stopping && degraded == nil
            return HTTPResponse(status: ok ? 200 : 503, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
        case "/metrics":
            return HTTPResponse(status: 200, headers: [("Content-Type", MetricsRegistry.contentType)], body: Array(metrics.registry.render().utf8))
        default:
            return HTTPResponse.jsonError(status: 404, error: "not_found", message: "try /healthz or /metrics")
        }
    }
}
