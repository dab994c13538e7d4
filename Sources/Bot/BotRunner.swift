#if canImport(Glibc)
import Glibc
#endif
import Platform
import HTTPServer
import CurlHTTP

/// Wires the bot into its lifecycle (`ServiceGroup`): signals first, then the settings, the
/// lock files and the state (refused: exit 2), then two services started in this order and
/// stopped in reverse: `/healthz` and `/metrics` (with `BOT_LISTEN`), and the leadership. Once
/// both are up systemd hears READY=1 and the campaign for the leader lock begins (a standby is
/// a started service). The leadership (`LeadershipDriver`) does the leader's shutdown steps: the
/// first SIGTERM/SIGINT makes a standby just exit; a leader stops taking events, finishes the
/// replies in progress, does its pending expiry edits, deletes its queue, and releases the lock
/// last, all within the one stop deadline (18 s), exit 0. A second signal exits at once (1); a
/// lost leadership exits 1, rejected Zulip credentials 3. The watchdog is fed while the bot
/// stands by, and while the leader's Zulip loop comes back and no DM is stuck.
enum BotRunner {
    static let credentialsMessage = "Zulip rejected the bot's credentials (check ZULIP_EMAIL / ZULIP_API_KEY)"

    static func run(zuliprc: String?) -> Never {
        let notifier = SystemdNotifier()
        let group = ServiceGroup(program: "totp-bot", signals: [.terminate, .interrupt], notifier: notifier)
        let config: BotConfiguration
        do { config = try BotConfiguration.load(environment: .current(), zuliprcPath: zuliprc) } catch {
            group.refuse(ServiceFailure(code: 2, message: "totp-bot: configuration has \(error.problems.count) problem(s):\n\(error.description)"))
        }
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
            group.refuse(ServiceFailure(code: 2, message: "totp-bot: \(error.description)"))
        }
        let leadership = LeadershipDriver(election: lock, logger: logger, metrics: metrics, notifier: notifier, fail: { group.fail($0) })
        // A newer leader wrote the state file: another bot leads now.
        let store = LeaderStateStore(directory: config.stateDir, logger: logger, metrics: metrics) { leadership.handle(.lost(reason: $0)) }
        do { try store.load() } catch {
            group.refuse(ServiceFailure(code: 2, message: "totp-bot: \(error.description)"))
        }
        // Retrying cannot help, and a supervisor should not hide it: exit 3.
        let credentialsRejected: @Sendable () -> Never = {
            logger.error("zulip_unauthorized", ["message": .string(credentialsMessage)])
            group.fail(ServiceFailure(code: 3, message: "totp-bot: " + credentialsMessage))
        }

        CurlRuntime.initializeOnce()
        let zulip = ZulipClient(
            apiBase: config.zulipAPIBase, email: config.zulipEmail, apiKey: config.zulipAPIKey, http: HTTPClient(options: httpOptions(caFile: config.zulipCAFile)),
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

        // Edits left by a previous leader are done even with BOT_EXPIRY_EDIT=0 (it promised them).
        let editor = ExpiryEditor(logger: logger, metrics: metrics, store: store) { (id, text, timeout) throws(ZulipError) in
            try zulip.editMessage(id, content: text, timeout: timeout)
        }
        let directory = UserDirectory()
        let handler = DMHandler(
            // Checked before every reply is sent, besides the election's own monitoring.
            sender: ReplySender(zulip: zulip, store: store, deadline: config.replyDeadline, mayAct: { leadership.mayAct() }, logger: logger,
                                credentialsRejected: credentialsRejected),
            gateway: gateway, acl: config.acl, directory: directory,
            limiter: UserRateLimiter(burst: config.userRateBurst, perMinute: config.userRatePerMinute),
            editor: config.expiryEdit ? editor : nil, editDelay: config.expiryEditDelay, metrics: metrics, logger: logger)
        let session = LeaderSession(
            config: config, zulip: zulip, handler: handler, directory: directory, store: store, editor: editor, metrics: metrics,
            logger: logger, leadership: leadership, credentialsRejected: credentialsRejected)

        var services: [LifecycleService] = []
        if let listen = config.listen {
            var http = HTTPServerConfiguration()
            http.host = listen.host
            http.port = listen.port
            http.eventLoops = 1
            let server = HTTPServer(configuration: http, logger: logger.with(component: "http")) { request in
                let role = leadership.role
                return health(request, role: role, stateFailure: store.writeFailure, eventQueue: role == .leader ? session.eventQueueStatus : nil,
                              metrics: metrics)
            }
            services.append(LifecycleService(
                name: "http",
                start: { () throws(ServiceFailure) in
                    do {
                        let port = try server.start()
                        logger.info("listening", ["address": .string(ListenAddress(host: listen.host, port: port).description), "port": .int(port)])
                    } catch {
                        throw ServiceFailure(code: 2, message: "totp-bot: cannot listen on BOT_LISTEN \(listen): \(error)")
                    }
                },
                // Up until the leadership is given up, so /healthz says "stopping" meanwhile.
                stop: { _ in server.stopNow() },
                stopNow: { server.stopNow() }))
        }
        services.append(LifecycleService(
            name: "leadership",
            ready: {
                _ = try? notifier.status("standby: waiting for the leader lock")
                logger.info("standby", ["lock_file": .string(config.lockFile), "message": "waiting for the leader lock"])
                leadership.start(crew: .init(session: session, editor: editor))
            },
            stop: { stop in leadership.stop(signal: stop.signal, deadline: stop.deadline) }))

        group.run(
            services: services, logger: logger, stopTimeout: Leadership.Configuration().shutdownBudget,
            health: { limit in leadership.role == .leader ? session.watchdogProblem(stallLimit: limit) : nil },
            stoppedFields: { ["role": .string((leadership.stoppedAs ?? .standby).name)] })
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
