#if canImport(Glibc)
import Glibc
#endif
import Platform
import HTTPServer
import TLS

/// Wires the gateway into its lifecycle (`ServiceGroup`): signals first, then the settings,
/// seeds and tokens (refused: exit 2), then three services started in this order and stopped
/// in reverse: the audit log, the HTTP server, the drain. So the first SIGTERM/SIGINT turns
/// /healthz 503 while /code keeps serving for `GATEWAY_DRAIN_SECONDS`, then the listener
/// closes, keep-alive connections close after their current response, in-flight requests get
/// `GATEWAY_SHUTDOWN_GRACE_SECONDS`, the audit log is flushed, exit 0. A second signal stops at
/// once (exit 1). SIGHUP reloads seeds and tokens, all or nothing (`GatewayReload`). The
/// watchdog is fed while every event loop turns.
enum GatewayRunner {
    static func run(listen: String?) -> Never {
        let group = ServiceGroup(program: "totp-gateway", signals: [.terminate, .interrupt, .hangup])
        let env = Environment.current()
        let config: GatewayConfiguration
        do { config = try GatewayConfiguration.load(environment: env, listenOverride: listen) } catch {
            group.refuse(ServiceFailure(code: 2, message: "totp-gateway: configuration refused:\n\(error.description)"))
        }
        let logger = Logger(component: "gateway", minimumLevel: config.logLevel)
        // Made in a function of its own: a local of this frame (which never returns) would keep
        // the first snapshot, and every seed of it, alive after reloads replace it.
        let (app, startLabels, startFingerprint) = makeApp(environment: env, config: config, logger: logger, group: group)
        let audit = app.audit
        let server = HTTPServer(configuration: httpConfiguration(config, tls: app.tls?.store), logger: logger.with(component: "http")) { app.handle($0) }
        app.metrics.attach(server: server, insecureFiles: { config.warnings.count + app.snapshot.fileWarnings.count })
        // What loading allocated and dropped (the file, its lines, parsed candidates) goes back.
        HeapMemory.releaseFreePages()
        app.tls?.register(in: app.metrics.registry, handshakeFailures: { server.statistics.tlsHandshakeFailures })

        let drainFor = Duration.nanoseconds(Int64(config.drainSeconds * 1e9))
        let grace = Duration.nanoseconds(Int64(config.shutdownGraceSeconds * 1e9))
        group.run(
            services: [
                LifecycleService(name: "audit", stop: { _ in audit.flush() }, stopNow: { audit.flush() }),
                LifecycleService(
                    name: "http",
                    start: { () throws(ServiceFailure) in
                        let port: Int
                        do { port = try server.start() } catch {
                            logger.error("listen_failed", ["address": .string(config.listen.description), "error": .string("\(error)")])
                            throw ServiceFailure(code: 1, message: "totp-gateway: cannot listen on \(config.listen): \(error)")
                        }
                        logger.info("listening", [
                            "address": .string(ListenAddress(host: config.listen.host, port: port).description), "port": .int(port),
                            "instance": .string(config.instance), "labels": .int(startLabels), "generation": 1,
                            "config": .string(startFingerprint), "tls": .string(tlsDescription(config.tls)),
                        ])
                    },
                    stop: { stop in
                        logger.info("closing_listener", [:])
                        server.shutdown(gracePeriod: min(grace, stop.deadline - .now))
                    },
                    stopNow: { server.stopNow() }),
                LifecycleService(
                    name: "drain",
                    stop: { stop in
                        app.startDraining()
                        logger.info("draining", ["signal": .string(stop.signal), "drain_seconds": .double(config.drainSeconds)])
                        Sleep.for(min(drainFor, stop.deadline - .now))
                    }),
            ],
            logger: logger,
            // The drain, the grace period, and 2 s for the audit log and the last lines.
            stopTimeout: drainFor + grace + .seconds(2),
            reload: { GatewayReload.reload(app: app, environment: env, config: config, logger: logger) },
            // The loops turn at least once a second: one stuck in a handler or a system call
            // withholds the ping, and systemd restarts the instance.
            health: { limit in
                let stuck = server.stalledLoops(olderThan: limit)
                return stuck > 0 ? "\(stuck) event loop(s) have not turned for \(limit.inSeconds) s" : nil
            })
    }

    /// For the `listening` line: plain, or TLS with the certificate's CN, expiry and mTLS.
    static func tlsDescription(_ context: TLSContext?) -> String {
        guard let context else { return "off" }
        return "cn=\(context.commonName) not_after=\(context.notAfter)" + (context.requiresClientCertificate ? " client_certificates=required" : "")
    }

    /// Loads the first snapshot (refused: exit 2), opens the audit log and makes the app;
    /// returns it with the label count and fingerprint the start-up line reports.
    private static func makeApp(environment env: Environment, config: GatewayConfiguration, logger: Logger, group: ServiceGroup)
        -> (GatewayApp, labels: Int, fingerprint: String)
    {
        let snapshot: GatewaySnapshot
        do { snapshot = try GatewaySnapshot.load(environment: env, generation: 1, loadedAt: Logger.wallClock().seconds) } catch {
            for p in error.problems {
                logger.error("config_error", ["source": .string(p.source), "label": .string(p.label ?? ""), "message": .string(p.message)])
            }
            group.refuse(ServiceFailure(code: 2, message: "totp-gateway: configuration refused:\n\(error.description)"))
        }
        GatewayReload.logFindings(snapshot, config: config, logger: logger, fileWarnings: config.warnings + snapshot.fileWarnings)

        let auditSink: LogSink
        if let path = config.auditFile {
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                group.refuse(ServiceFailure(code: 2, message: "totp-gateway: GATEWAY_AUDIT_FILE \(path): \(String(cString: strerror(errno)))"))
            }
            auditSink = .fileDescriptor(fd)
        } else {
            auditSink = .standardError
        }
        let audit = AuditLog(sink: auditSink, key: config.auditKey, logger: logger.with(component: "audit"))
        let app = GatewayApp(configuration: config, snapshot: snapshot, logger: logger, audit: audit)
        return (app, snapshot.seeds.count, snapshot.seeds.fingerprint)
    }

    static func httpConfiguration(_ config: GatewayConfiguration, tls: TLSContextStore? = nil) -> HTTPServerConfiguration {
        var http = HTTPServerConfiguration()
        http.tls = tls
        http.host = config.listen.host
        http.port = config.listen.port
        if let loops = config.eventLoops { http.eventLoops = loops }
        http.headerReadTimeout = .nanoseconds(Int64(config.headerTimeoutSeconds * 1e9))
        http.idleTimeout = .nanoseconds(Int64(config.idleTimeoutSeconds * 1e9))
        http.writeTimeout = .nanoseconds(Int64(config.writeTimeoutSeconds * 1e9))
        http.maxConnections = config.maxConnections
        http.maxConnectionsPerClient = config.maxConnectionsPerClient
        // HAProxy carries every client's connections (and its health checks) from one address.
        let proxies = config.trustedProxies
        http.perClientLimitExempt = { proxies.contains($0) }
        // Idle sockets give way to a new connection at the cap, so a flood of idle connections
        // from many addresses cannot lock out a health check or a real client.
        http.evictIdleAtCap = true
        return http
    }
}
