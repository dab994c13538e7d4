import Platform

/// SIGHUP: seeds and tokens are loaded again, all or nothing, and swapped in; a file caught half
/// written or emptied keeps the current set. The TLS certificate and key are reloaded on their
/// own (`GatewayTLS`): a refused pair keeps the one in service and does not hold back the seeds.
/// Also the findings logged at start and after each reload (weak seeds, open file modes, no
/// tokens).
///
/// ```swift
/// GatewayReload.reload(app: app, environment: env, config: config, logger: logger)
/// ```
enum GatewayReload {
    static func reload(app: GatewayApp, environment: Environment, config: GatewayConfiguration, logger: Logger) {
        if let tls = app.tls { reloadTLS(tls, logger: logger) }
        let current = app.snapshot
        do {
            let next = try GatewaySnapshot.load(environment: environment, generation: current.generation + 1, loadedAt: Logger.wallClock().seconds)
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
            app.metrics.reloads.labels("success").inc()
            if config.metricsPerLabel == nil && config.perLabelSeries(labels: next.seeds.count) != app.metrics.perLabel {
                logger.warning("metrics_per_label_kept", ["labels": .int(next.seeds.count), "per_label": .bool(app.metrics.perLabel),
                    "message": .string("the label count crossed \(GatewaySettings.perLabelSeriesLimit): /metrics keeps the per-label choice made at start until a restart (or set GATEWAY_METRICS_PER_LABEL)")])
            }
            logFindings(next, config: config, logger: logger, fileWarnings: next.fileWarnings)
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

    static func reloadTLS(_ tls: GatewayTLS, logger: Logger) {
        do {
            let next = try tls.reload()
            logger.info("tls_reloaded", ["cn": .string(next.commonName), "not_after": .int(Int(next.notAfter))])
        } catch {
            logger.error("tls_reload_failed", ["source": .string(error.source), "message": .string(error.message),
                "not_after": .int(Int(tls.notAfter))])
        }
    }

    /// Weak seeds, secret files others may read, and `/code` open to anyone or refusing everyone.
    static func logFindings(_ snapshot: GatewaySnapshot, config: GatewayConfiguration, logger: Logger, fileWarnings: [ConfigProblem]) {
        for w in snapshot.warnings {
            logger.warning("weak_seed", ["source": .string(w.source), "label": .string(w.label ?? ""), "message": .string(w.message)])
        }
        for w in fileWarnings {
            logger.warning("insecure_file_mode", ["source": .string(w.source), "message": .string(w.message)])
        }
        guard snapshot.tokens.isEmpty else { return }
        if config.insecureNoAuth {
            logger.error("insecure_no_auth", ["message": "GATEWAY_INSECURE_NO_AUTH=1: /code serves ANYONE without a token. Demo use only."])
        } else {
            logger.warning("no_tokens", ["message": "no client tokens configured: /code refuses every request; set GATEWAY_TOKENS"])
        }
    }
}
