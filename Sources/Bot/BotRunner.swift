#if canImport(Glibc)
import Glibc
#endif
import Platform
import HTTPServer
import CurlHTTP
import Etcd

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
            "acl_entries": .int(config.acl.count), "access_policies": .int(config.policies.count), "lock_file": .string(config.lockFile),
            "state_dir": .string(config.stateDir), "election": .string(config.etcd == nil ? "lockfile" : "etcd"),
        ])
        if config.acl.isEmpty {
            logger.warning("acl_empty", ["message": "the access list is empty: nobody will get a code; set BOT_ACL or BOT_ACL_FILE"])
        }

        CurlRuntime.initializeOnce()
        // The election source and where the leader's state lives: the lock files and
        // BOT_STATE_DIR, or etcd (the leader key's lease, the state and the claims under its fence).
        let election: any LeaderElection
        let storage: any LeaderStateStorage
        let claim: @Sendable (Int) -> MessageClaim
        if let etcd = config.etcd {
            let sources: (EtcdLeaderElection, EtcdLeaderStateStorage, @Sendable (Int) -> MessageClaim)
            do { sources = try etcdSources(etcd, logger: logger, metrics: metrics) } catch {
                group.refuse(ServiceFailure(code: 2, message: "totp-bot: BOT_ETCD_*: \(error.message)"))
            }
            (election, storage, claim) = (sources.0, sources.1, sources.2)
        } else {
            do {
                election = try LeaderLock(
                    path: config.lockFile, stateLock: LeaderStateStore.lockPath(in: config.stateDir),
                    minimumEpoch: { [stateDir = config.stateDir] in LeaderStateStore.epochOnDisk(directory: stateDir) }, logger: logger)
            } catch {
                group.refuse(ServiceFailure(code: 2, message: "totp-bot: \(error.description)"))
            }
            storage = LeaderStateFile(directory: config.stateDir)
            claim = { _ in .proceed }
        }
        let leadership = LeadershipDriver(election: election, logger: logger, metrics: metrics, notifier: notifier, fail: { group.fail($0) })
        // Another leader wrote the state (a newer epoch in the file, etcd's fence refused): another bot leads now.
        let store = LeaderStateStore(storage: storage, logger: logger, metrics: metrics) { leadership.handle(.lost(reason: $0)) }
        // The file is read at start to refuse an unreadable one (exit 2); etcd's state is read
        // at each takeover, when it matters, so a bot can stand by while etcd is down.
        if config.etcd == nil {
            do { try store.load() } catch {
                group.refuse(ServiceFailure(code: 2, message: "totp-bot: \(error.description)"))
            }
        }
        // Retrying cannot help, and a supervisor should not hide it: exit 3.
        let credentialsRejected: @Sendable () -> Never = {
            logger.error("zulip_unauthorized", ["message": .string(credentialsMessage)])
            group.fail(ServiceFailure(code: 3, message: "totp-bot: " + credentialsMessage))
        }
        // The configuration cannot work with this Zulip server (found out once connected): exit 2.
        let configurationUnusable: @Sendable (String) -> Never = { message in
            logger.error("configuration_unusable", ["message": .string(message)])
            group.fail(ServiceFailure(code: 2, message: "totp-bot: " + message))
        }

        let zulip = ZulipClient(
            apiBase: config.zulipAPIBase, email: config.zulipEmail, apiKey: config.zulipAPIKey, http: HTTPClient(options: HTTPClientOptions.bot(caFile: config.zulipCAFile)),
            onSuccess: { metrics.zulipLastSuccess.set(Double(Logger.wallClock().seconds)) },
            onError: { metrics.zulipErrors.labels($0.kind).inc() })
        let gateway = GatewayClient(
            configuration: GatewayClientConfiguration(
                baseURLs: config.gatewayURLs, token: config.gatewayToken, caFile: config.gatewayCAFile,
                perAttemptTimeout: config.gatewayAttemptTimeout, overallDeadline: config.gatewayDeadline,
                userAgent: "totp-bot/\(ProductVersion.current)"),
            http: HTTPClient(options: HTTPClientOptions.bot(
                caFile: config.gatewayCAFile, clientCertificate: config.gatewayClientCertificateFile, clientKey: config.gatewayClientKeyFile)),
            logger: logger.with(component: "gateway-client"))
        metrics.attach(gateway: gateway)

        // Edits left by a previous leader are done even with BOT_EXPIRY_EDIT=0 (it promised them).
        // An edit is an action like a reply: only while leading, and (etcd) under its claim.
        let editClaim: @Sendable (Int) -> MessageClaim = { [claim] id in
            guard leadership.mayAct() else { return .refused("this bot no longer leads") }
            return claim(id)
        }
        let editor = ExpiryEditor(logger: logger, metrics: metrics, store: store, claim: editClaim) { (id, text, timeout) throws(ZulipError) in
            try zulip.editMessage(id, content: text, timeout: timeout)
        }
        let directory = UserDirectory()
        let groups = UserGroupDirectory()
        // The access workflow (BOT_POLICY): who may do what now, codes worded once, its outbox.
        let view = LiveAccessView(acl: config.acl, directory: directory, groups: groups)
        let issuer = CodeIssuer(gateway: gateway, reuse: ReuseGuard(wallClock: { Logger.wallClock().seconds }))
        let outbox = OutboxSender(zulip: zulip, store: store, issuer: issuer, view: view, editor: config.expiryEdit ? editor : nil,
                                  editDelay: config.expiryEditDelay, mayAct: { leadership.mayAct() }, logger: logger,
                                  credentialsRejected: credentialsRejected)
        let access = AccessCoordinator(policies: config.policies, store: store, view: view, sender: outbox, zulip: zulip, logger: logger)
        metrics.attach(access: store)
        let handler = DMHandler(
            // Checked before every reply is sent, besides the election's own monitoring.
            sender: ReplySender(zulip: zulip, store: store, deadline: config.replyDeadline, mayAct: { leadership.mayAct() }, claim: claim,
                                logger: logger, credentialsRejected: credentialsRejected),
            gateway: gateway, issuer: issuer, access: access, view: view,
            limiter: UserRateLimiter(burst: config.userRateBurst, perMinute: config.userRatePerMinute),
            editor: config.expiryEdit ? editor : nil, editDelay: config.expiryEditDelay, metrics: metrics, logger: logger)
        let session = LeaderSession(
            config: config, zulip: zulip, handler: handler, directory: directory, groups: groups, access: access, store: store,
            editor: editor, metrics: metrics, logger: logger, leadership: leadership, credentialsRejected: credentialsRejected,
            configurationUnusable: configurationUnusable)

        var services: [LifecycleService] = []
        if let listen = config.listen {
            var http = HTTPServerConfiguration()
            http.host = listen.host
            http.port = listen.port
            http.eventLoops = 1
            let server = HTTPServer(configuration: http, logger: logger.with(component: "http")) { request in
                let role = leadership.role
                return BotEndpoints.respond(to: request, role: role, stateFailure: store.writeFailure, eventQueue: role == .leader ? session.eventQueueStatus : nil,
                              election: config.etcd == nil ? "lockfile" : "etcd", token: leadership.token,
                              etcdReachable: metrics.etcdReachable, metrics: metrics)
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
                if let etcd = config.etcd {
                    logger.info("standby", ["election": "etcd", "leader_key": .string(etcd.keyspace.leader), "message": "campaigning for the etcd leader key"])
                } else {
                    logger.info("standby", ["lock_file": .string(config.lockFile), "message": "waiting for the leader lock"])
                }
                leadership.start(crew: .init(session: session, editor: editor))
            },
            stop: { stop in leadership.stop(signal: stop.signal, deadline: stop.deadline) }))

        group.run(
            services: services, logger: logger, stopTimeout: Leadership.Configuration().shutdownBudget,
            health: { limit in leadership.role == .leader ? session.watchdogProblem(stallLimit: limit) : nil },
            stoppedFields: { ["role": .string((leadership.stoppedAs ?? .standby).name)] })
    }

    /// The etcd election, the state storage under its fence and the claim of each reply.
    private static func etcdSources(_ etcd: BotEtcdSettings, logger: Logger, metrics: BotMetrics) throws(EtcdError)
        -> (EtcdLeaderElection, EtcdLeaderStateStorage, @Sendable (Int) -> MessageClaim) {
        let client = try EtcdClient(configuration: etcd.client)
        let identity = "\(HostName.current ?? "unknown") pid \(getpid())"
        let record = metrics.attachEtcd()
        let election = EtcdLeaderElection(
            client: client, configuration: try etcd.election(identity: identity), logger: logger.with(component: "etcd"), onRequest: record)
        metrics.attach(election: election)
        let writes = FencedWrites(client: client, keyspace: etcd.keyspace)
        let storage = EtcdLeaderStateStorage(writes: writes, fence: { election.fence() }, record: record)
        let claim: @Sendable (Int) -> MessageClaim = { id in MessageClaim.etcd(writes, fence: election.fence(), message: id, record: record) }
        return (election, storage, claim)
    }
}
