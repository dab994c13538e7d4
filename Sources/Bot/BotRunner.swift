#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Platform
import HTTPServer
import Synchronization
import CurlHTTP

/// Runs the bot: configure, serve /healthz and /metrics, tell systemd READY=1, wait for the
/// leader lock (pinging the watchdog), then lead (`LeaderSession`). Leadership, and the
/// shutdown's steps, are the `LeadershipDriver`'s: SIGTERM/SIGINT make a standby just exit; a
/// leader stops taking events, finishes the replies in progress, does its pending expiry
/// edits, deletes its queue, and releases the lock last, all within the shutdown budget (18 s).
/// A second signal exits at once (1).
enum BotRunner {
    static let credentialsMessage = "Zulip rejected the bot's credentials (check ZULIP_EMAIL / ZULIP_API_KEY)"

    /// Exit 3 after a 401: retrying cannot help, and a supervisor should not hide it.
    static func fatalCredentials(logger: Logger) -> Never {
        logger.error("zulip_unauthorized", ["message": .string(credentialsMessage)])
        BotMain.printError("totp-bot: " + credentialsMessage)
        exit(3)
    }

    static func run(config: BotConfiguration) -> Never {
        let logger = Logger(component: "bot", minimumLevel: config.logLevel)
        let metrics = BotMetrics()
        logger.info("starting", [
            "version": .string(ProductVersion.current), "zulip_site": .string(config.zulipSite), "gateways": .int(config.gatewayURLs.count),
            "acl_entries": .int(config.acl.count), "lock_file": .string(config.lockFile), "state_dir": .string(config.stateDir),
        ])
        if config.acl.isEmpty {
            logger.warning("acl_empty", ["message": "the access list is empty: nobody will get a code; set BOT_ACL or BOT_ACL_FILE"])
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
        let notifier = SystemdNotifier()
        let leadership = LeadershipDriver(election: lock, logger: logger, metrics: metrics, notifier: notifier)
        // A newer leader wrote the state file: another bot leads now.
        let store = LeaderStateStore(directory: config.stateDir, logger: logger, metrics: metrics) { leadership.handle(.lost(reason: $0)) }
        do { try store.load() } catch {
            BotMain.printError("totp-bot: \(error.description)")
            exit(2)
        }

        CurlRuntime.initializeOnce()
        let zulipHTTP = HTTPClient(options: httpOptions(caFile: config.zulipCAFile))
        let zulip = ZulipClient(
            apiBase: config.zulipAPIBase, email: config.zulipEmail, apiKey: config.zulipAPIKey, http: zulipHTTP,
            onSuccess: { metrics.zulipLastSuccess.set(Double(Logger.wallClock().seconds)) },
            onError: { metrics.zulipErrors.labels($0.kind).inc() })
        let gateway = GatewayClient(
            configuration: GatewayClientConfiguration(
                baseURLs: config.gatewayURLs, token: config.gatewayToken, caFile: config.gatewayCAFile,
                perAttemptTimeout: config.gatewayAttemptTimeout, overallDeadline: config.gatewayDeadline,
                userAgent: "totp-bot/\(ProductVersion.current)"),
            http: HTTPClient(options: httpOptions(caFile: config.gatewayCAFile)),
            logger: logger.with(component: "gateway-client"))
        metrics.attach(gateway: gateway)

        let ping: @Sendable () -> Void = { _ = try? notifier.watchdog() }
        // Edits left by a previous leader are done even with BOT_EXPIRY_EDIT=0 (it promised them).
        let editor = ExpiryEditor(logger: logger, metrics: metrics, store: store) { (id, text, timeout) throws(ZulipError) in
            try zulip.editMessage(id, content: text, timeout: timeout)
        }
        let directory = UserDirectory()
        let handler = DMHandler(
            // Checked before every reply is sent, besides the election's own monitoring.
            sender: ReplySender(zulip: zulip, store: store, deadline: config.replyDeadline, mayAct: { leadership.mayAct() }, logger: logger),
            gateway: gateway, acl: config.acl, directory: directory,
            limiter: UserRateLimiter(burst: config.userRateBurst, perMinute: config.userRatePerMinute),
            editor: config.expiryEdit ? editor : nil, editDelay: config.expiryEditDelay, metrics: metrics, logger: logger)
        let session = LeaderSession(
            config: config, zulip: zulip, handler: handler, directory: directory, store: store, editor: editor, metrics: metrics,
            logger: logger, leadership: leadership, ping: ping)

        var startedServer: HTTPServer? = nil
        if let listen = config.listen {
            var httpConfig = HTTPServerConfiguration()
            httpConfig.host = listen.host
            httpConfig.port = listen.port
            httpConfig.eventLoops = 1
            let s = HTTPServer(configuration: httpConfig, logger: logger.with(component: "http")) { request in
                let role = leadership.role
                return health(request, role: role, stateFailure: store.writeFailure, eventQueue: role == .leader ? session.eventQueueStatus : nil,
                              metrics: metrics)
            }
            do {
                let port = try s.start()
                logger.info("listening", ["address": .string(ListenAddress(host: listen.host, port: port).description), "port": .int(port)])
            } catch {
                BotMain.printError("totp-bot: cannot listen on BOT_LISTEN \(listen): \(error)")
                exit(2)
            }
            startedServer = s
        }
        let server = startedServer

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
            timer.setEventHandler { if leadership.role == .standby { ping() } }
            timer.resume()
            sources.append(timer)
        }
        logger.info("standby", ["lock_file": .string(config.lockFile), "message": "waiting for the leader lock"])
        leadership.start(crew: .init(session: session, editor: editor, server: server, ping: ping))

        for (sig, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: control)
            source.setEventHandler { leadership.handle(.stopRequested(signal: name)) }
            source.resume()
            sources.append(source)
        }
        signal(SIGPIPE, SIG_IGN)
        withExtendedLifetime(sources) { dispatchMain() }
    }

    /// The curl options of both clients: TCP keep-alive after 30 s idle, probes every 15 s, so a
    /// connection whose peer vanished is noticed by the kernel too, and the probes keep NATs and
    /// load balancers from dropping an idle long-poll.
    static func httpOptions(caFile: String?) -> HTTPClientOptions {
        var options = HTTPClientOptions(userAgent: "totp-bot/\(ProductVersion.current)", caFile: caFile)
        options.tcpKeepAlive = .init(idle: .seconds(30), interval: .seconds(15))
        return options
    }

    /// `/healthz`: 200 `{"status":"ok","role":...}`; 503 while stopping, and for a leader that
    /// cannot save its state (`"status":"degraded"`, with the reason): it answers no DM then. A
    /// leader also shows how long ago its event queue last answered and the stuck-poll limit.
    static func health(_ request: HTTPRequest, role: Leadership.Role, stateFailure: String?,
                       eventQueue: (lastAnswerAge: Duration?, limit: Duration)?, metrics: BotMetrics) -> HTTPResponse {
        switch request.path {
        case "/healthz":
            let degraded = role == .leader ? stateFailure : nil
            var body = "{\"status\":\"\(role == .stopping ? "stopping" : degraded == nil ? "ok" : "degraded")\",\"role\":\"\(role.name)\""
            if let degraded {
                body += ",\"reason\":\"state_not_writable\",\"message\":"
                JSONText.appendString("the state in BOT_STATE_DIR cannot be saved, so no DM is answered: \(degraded)", to: &body)
            }
            if let eventQueue {
                if let age = eventQueue.lastAnswerAge { body += ",\"last_event_answer_age_seconds\":\(tenths(age))" }
                body += ",\"event_poll_limit_seconds\":\(tenths(eventQueue.limit))"
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

    /// Seconds to one decimal, as a JSON number.
    private static func tenths(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s * 10 + atto / 100_000_000_000_000_000) / 10
    }
}
