#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Platform
import HTTPServer
import Synchronization

/// Runs the server: load, listen, notify systemd, then react to signals.
/// SIGHUP reloads seeds and tokens (all or nothing). The first SIGTERM/SIGINT drains: /healthz
/// turns 503 while /code keeps serving for `GATEWAY_DRAIN_SECONDS`, then the listener closes,
/// keep-alive connections close after their current response, in-flight requests finish, exit 0.
/// A second signal stops at once (exit 1).
enum GatewayRunner {

    /// Serving, or draining after the first SIGTERM/SIGINT (a second one stops at once).
    enum Phase: Sendable {
        case serving
        case draining
    }

    static func run(listen: String?) -> Never {
        // A SIGHUP that arrives while the configuration is still loading (a sealed file being
        // opened, say) must not kill the process; the reload handler is installed below.
        signal(SIGHUP, SIG_IGN)
        let env = Environment.current()
        let config: GatewayConfiguration
        do { config = try GatewayConfiguration.load(environment: env, listenOverride: listen) } catch {
            GatewayMain.printError("totp-gateway: configuration refused:\n\(error.description)")
            exit(2)
        }
        let logger = Logger(component: "gateway", minimumLevel: config.logLevel)
        let snapshot: GatewaySnapshot
        do { snapshot = try GatewaySnapshot.load(environment: env, generation: 1, loadedAt: Logger.wallClock().seconds) } catch {
            for p in error.problems {
                logger.error("config_error", ["source": .string(p.source), "label": .string(p.label ?? ""), "message": .string(p.message)])
            }
            LogSink.standardError.drain()
            GatewayMain.printError("totp-gateway: configuration refused:\n\(error.description)")
            exit(2)
        }
        for w in snapshot.warnings {
            logger.warning("weak_seed", ["source": .string(w.source), "label": .string(w.label ?? ""), "message": .string(w.message)])
        }
        for w in config.warnings + snapshot.fileWarnings {
            logger.warning("insecure_file_mode", ["source": .string(w.source), "message": .string(w.message)])
        }
        warnAboutAuthentication(snapshot, config: config, logger: logger)

        let auditSink: LogSink
        if let path = config.auditFile {
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                GatewayMain.printError("totp-gateway: GATEWAY_AUDIT_FILE \(path): \(String(cString: strerror(errno)))")
                exit(2)
            }
            auditSink = .fileDescriptor(fd)
        } else {
            auditSink = .standardError
        }
        let audit = AuditLog(sink: auditSink, key: config.auditKey, logger: logger.with(component: "audit"))
        let app = GatewayApp(configuration: config, snapshot: snapshot, logger: logger, audit: audit)

        var httpConfig = HTTPServerConfiguration()
        httpConfig.host = config.listen.host
        httpConfig.port = config.listen.port
        if let loops = config.eventLoops { httpConfig.eventLoops = loops }
        httpConfig.headerReadTimeout = .milliseconds(Int(config.headerTimeoutSeconds * 1000))
        httpConfig.idleTimeout = .milliseconds(Int(config.idleTimeoutSeconds * 1000))
        httpConfig.writeTimeout = .milliseconds(Int(config.writeTimeoutSeconds * 1000))
        httpConfig.maxConnections = config.maxConnections
        httpConfig.maxConnectionsPerClient = config.maxConnectionsPerClient
        // HAProxy carries every client's connections (and its health checks) from one address.
        let proxies = config.trustedProxies
        httpConfig.perClientLimitExempt = { proxies.contains($0) }
        // Idle sockets give way to a new connection at the cap, so a flood of idle connections
        // from many addresses cannot lock out a health check or a real client.
        httpConfig.evictIdleAtCap = true
        let server = HTTPServer(configuration: httpConfig, logger: logger.with(component: "http")) { app.handle($0) }
        app.metrics.registry.gaugeFunction("gateway_open_connections", help: "Open client connections.") {
            [([], Double(server.openConnections))]
        }
        app.metrics.registry.gaugeFunction("gateway_inflight_requests", help: "Requests being processed.") {
            [([], Double(server.inFlightRequests))]
        }
        app.metrics.registry.counterFunction(
            "gateway_http_refused_total", help: "Requests the HTTP server answered itself with an error (malformed, too large, wrong method), by status.",
            labelNames: ["status"]
        ) {
            server.statistics.refusals.map { ([String($0.key)], Double($0.value)) }
        }
        app.metrics.registry.counterFunction(
            "gateway_http_timeouts_total", help: "Connections closed by a timeout: header (slow request head), idle (keep-alive), write (slow reader).",
            labelNames: ["kind"]
        ) {
            server.statistics.timeouts.map { ([$0.key], Double($0.value)) }
        }
        app.metrics.registry.counterFunction(
            "gateway_http_connections_rejected_total", help: "Connections closed at once because the open-connection cap was reached and none was idle."
        ) {
            [([], Double(server.statistics.connectionsRejected))]
        }
        app.metrics.registry.counterFunction(
            "gateway_http_client_connections_rejected_total",
            help: "Connections closed at once because their client address had GATEWAY_MAX_CONNECTIONS_PER_CLIENT open."
        ) {
            [([], Double(server.statistics.connectionsRejectedPerClient))]
        }
        app.metrics.registry.counterFunction(
            "gateway_http_connections_evicted_total", help: "Idle connections closed to make room for a new one at the open-connection cap."
        ) {
            [([], Double(server.statistics.connectionsEvicted))]
        }
        app.metrics.registry.gaugeFunction("gateway_insecure_files",
            help: "Secret files readable by group or others that were only warned about (plaintext seeds, container secrets); see the insecure_file_mode log lines.") {
            [([], Double(config.warnings.count + app.snapshot.fileWarnings.count))]
        }
        let port: Int
        do { port = try server.start() } catch {
            logger.error("listen_failed", ["address": .string(config.listen.description), "error": .string("\(error)")])
            LogSink.standardError.drain()
            GatewayMain.printError("totp-gateway: cannot listen on \(config.listen): \(error)")
            exit(1)
        }
        logger.info("listening", [
            "address": .string(ListenAddress(host: config.listen.host, port: port).description), "port": .int(port),
            "instance": .string(config.instance), "labels": .int(snapshot.seeds.count), "generation": 1,
            "config": .string(snapshot.seeds.fingerprint),
        ])

        let notifier = SystemdNotifier()
        _ = try? notifier.ready()
        var sources: [any DispatchSourceProtocol] = []
        let control = DispatchQueue(label: "gateway-control")
        if let interval = notifier.watchdogPingInterval {
            let timer = DispatchSource.makeTimerSource(queue: control)
            let ms = Int(interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000)
            // The ping proves the event loops turn, not just that this timer thread runs: a loop
            // stuck in a handler or a system call stops it, and systemd restarts the instance.
            // Loops turn at least once a second, so 2 pings' worth (at least 3 s) is a real stall.
            let stallLimit = Duration.milliseconds(max(3000, 2 * ms))
            let stalled = Mutex(false)
            timer.schedule(deadline: .now(), repeating: .milliseconds(max(ms, 100)))
            timer.setEventHandler {
                let stuck = server.stalledLoops(olderThan: stallLimit)
                let wasStalled = stalled.withLock { s -> Bool in
                    defer { s = stuck > 0 }
                    return s
                }
                if stuck > 0 {
                    if !wasStalled { logger.error("watchdog_withheld", ["stalled_loops": .int(stuck), "message": "an event loop has not turned; not pinging the systemd watchdog"]) }
                    return
                }
                _ = try? notifier.watchdog()
            }
            timer.resume()
            sources.append(timer)
        }

        let phase = Mutex<Phase>(.serving)
        let reload: @Sendable () -> Void = {
            let current = app.snapshot
            do {
                let next = try GatewaySnapshot.load(environment: env, generation: current.generation + 1, loadedAt: Logger.wallClock().seconds)
                // Going from some labels or tokens to none is almost always a file caught half
                // written or emptied by mistake: keep serving rather than refuse everyone.
                var emptied: [ConfigProblem] = []
                if next.seeds.count == 0 && current.seeds.count > 0 {
                    emptied.append(ConfigProblem(source: "reload", message: "the new configuration has no labels (the current one has \(current.seeds.count)); restart the instance to serve none"))
                }
                if next.tokens.isEmpty && !current.tokens.isEmpty {
                    emptied.append(ConfigProblem(source: "reload", message: "the new configuration has no client tokens (the current one has \(current.tokens.tokens.count)); restart the instance to run without tokens"))
                }
                if !emptied.isEmpty { throw ConfigError(emptied) }
                app.activate(next)
                warnAboutAuthentication(next, config: config, logger: logger)
                app.metrics.reloads.labels("success").inc()
                for w in next.warnings {
                    logger.warning("weak_seed", ["source": .string(w.source), "label": .string(w.label ?? ""), "message": .string(w.message)])
                }
                for w in next.fileWarnings {
                    logger.warning("insecure_file_mode", ["source": .string(w.source), "message": .string(w.message)])
                }
                logger.info("reloaded", ["generation": .int(next.generation), "labels": .int(next.seeds.count),
                    "tokens": .int(next.tokens.tokens.count), "config": .string(next.seeds.fingerprint)])
            } catch let error as ConfigError {
                app.metrics.reloads.labels("failure").inc()
                for p in error.problems {
                    logger.error("reload_failed", ["source": .string(p.source), "label": .string(p.label ?? ""), "message": .string(p.message),
                        "generation": .int(current.generation)])
                }
            } catch {
                app.metrics.reloads.labels("failure").inc()
                logger.error("reload_failed", ["message": .string("\(error)")])
            }
        }
        let stop = { (signalName: String) in
            let first = phase.withLock { p -> Bool in
                if case .serving = p {
                    p = .draining
                    return true
                }
                return false
            }
            if !first {
                logger.warning("stopping_now", ["signal": .string(signalName)])
                server.stopNow()
                audit.flush()
                LogSink.standardError.drain(timeout: .milliseconds(500))
                exit(1)
            }
            app.startDraining()
            _ = try? notifier.stopping()
            logger.info("draining", ["signal": .string(signalName), "drain_seconds": .double(config.drainSeconds)])
            // The drain runs off the control queue so a second signal is still handled.
            DispatchQueue(label: "gateway-drain").async {
                usleep(useconds_t(config.drainSeconds * 1_000_000))
                logger.info("closing_listener", [:])
                server.shutdown(gracePeriod: .milliseconds(Int(config.shutdownGraceSeconds * 1000)))
                audit.flush()
                logger.info("stopped", [:])
                LogSink.standardError.drain()
                exit(0)
            }
        }
        // Reloads run on their own queue: a reload stuck on a slow file system must not keep
        // the control queue from handling SIGTERM. SIGHUPs that arrive while one is queued
        // fold into it; one that arrives during a reload queues another (the files may have
        // changed again).
        let reloads = DispatchQueue(label: "gateway-reload")
        let reloadQueued = Atomic<Bool>(false)
        let requestReload = {
            if reloadQueued.exchange(true, ordering: .acquiringAndReleasing) { return }
            reloads.async {
                reloadQueued.store(false, ordering: .releasing)
                reload()
            }
        }
        for (sig, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGHUP, "SIGHUP")] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: control)
            source.setEventHandler { sig == SIGHUP ? requestReload() : stop(name) }
            source.resume()
            sources.append(source)
        }
        // The sources must outlive this frame: dispatchMain() never returns.
        withExtendedLifetime(sources) { dispatchMain() }
    }

    /// Says loudly when `/code` is open to anyone or refuses everyone (at start and after a reload).
    static func warnAboutAuthentication(_ snapshot: GatewaySnapshot, config: GatewayConfiguration, logger: Logger) {
        guard snapshot.tokens.isEmpty else { return }
        if config.insecureNoAuth {
            logger.error("insecure_no_auth", ["message": "GATEWAY_INSECURE_NO_AUTH=1: /code serves ANYONE without a token. Demo use only."])
        } else {
            logger.warning("no_tokens", ["message": "no client tokens configured: /code refuses every request; set GATEWAY_TOKENS"])
        }
    }
}
