#if canImport(Glibc)
import Glibc
#endif
import Platform
import Crypto

/// Everything `totp-gateway` reads at start-up, parsed and validated once. Seeds and tokens are
/// loaded separately (`GatewaySnapshot`) because SIGHUP reloads them.
///
/// ```swift
/// let config = try GatewayConfiguration.load(environment: .current(), listenOverride: nil)
/// ```
struct GatewayConfiguration: Sendable {
    static let defaultListen = "127.0.0.1:8080"
    /// HAProxy (infra/haproxy/haproxy.cfg) checks every 1 s and, after a first failure, every
    /// 250 ms with fall 2 and 250 ms check timeouts: a draining instance is out of the pool at
    /// most 1.75 s after /healthz turns 503. 3 s leaves margin for a slow check.
    static let defaultDrainSeconds = 3.0

    var listen: ListenAddress
    var instance: String
    var insecureNoAuth: Bool
    var metricsTokenHash: [UInt8]?
    /// `/metrics` has a `gateway_codes_issued_total` series per label (which names every label
    /// and shows when each is fetched). Default: only when `GATEWAY_METRICS_TOKEN` protects it.
    var metricsPerLabel: Bool
    var rateLimit: RateLimit?
    /// Failed authentications per client address (a token bucket); nil: not throttled.
    var authFailureLimit: RateLimit?
    var auditFile: String?
    var auditKey: [UInt8]?
    var drainSeconds: Double
    var shutdownGraceSeconds: Double
    var trustedProxies: TrustedProxies
    var requireClockSync: Bool
    var logLevel: LogLevel
    var eventLoops: Int?
    /// HTTP limits: slowloris (request head), keep-alive idle, slow reader (seconds), and the
    /// open-connection cap.
    var headerTimeoutSeconds: Double
    var idleTimeoutSeconds: Double
    var writeTimeoutSeconds: Double
    var maxConnections: Int
    /// Open connections per client address (trusted proxies exempt); 0 = no limit.
    var maxConnectionsPerClient: Int
    /// Findings that do not stop the gateway (secret files a container runtime made readable).
    var warnings: [ConfigProblem] = []

    /// Variables that may also be given as `NAME_FILE` (a path to a file holding the value),
    /// including those the seed loader and the token set read.
    static let fileVariables: [String] = [
        "GATEWAY_LISTEN", "GATEWAY_INSTANCE", "GATEWAY_EVENT_LOOPS", "GATEWAY_DRAIN_SECONDS", "GATEWAY_SHUTDOWN_GRACE_SECONDS",
        "GATEWAY_LOG_LEVEL", "GATEWAY_TOKENS", "API_KEY", "GATEWAY_INSECURE_NO_AUTH", "GATEWAY_RATE_LIMIT", "GATEWAY_RATE_BURST",
        "GATEWAY_METRICS_TOKEN", "GATEWAY_TRUSTED_PROXIES", "GATEWAY_REQUIRE_CLOCK_SYNC", "LABELS", "TOTP_PERIOD", "TOTP_DIGITS",
        "GATEWAY_HEADER_TIMEOUT_SECONDS", "GATEWAY_IDLE_TIMEOUT_SECONDS", "GATEWAY_WRITE_TIMEOUT_SECONDS", "GATEWAY_MAX_CONNECTIONS",
        "GATEWAY_MAX_CONNECTIONS_PER_CLIENT", "GATEWAY_METRICS_PER_LABEL", "GATEWAY_AUTH_FAILURE_LIMIT",
    ]
    /// Variables whose value is a path already; they have no `_FILE` variant.
    static let pathVariables: Set<String> = ["GATEWAY_SEEDS_FILE", "GATEWAY_SEEDS_KEY_FILE", "GATEWAY_AUDIT_FILE", "GATEWAY_AUDIT_KEY_FILE"]
    /// The secrets among `fileVariables`: an unreadable `_FILE` of these is not echoed unless it looks like a path.
    static let secretVariables: Set<String> = ["GATEWAY_TOKENS", "API_KEY", "GATEWAY_METRICS_TOKEN", "LABELS"]

    static func load(environment env: Environment, listenOverride: String?) throws(ConfigError) -> GatewayConfiguration {
        var problems: [ConfigProblem] = unknownFileVariables(env)
        // GATEWAY_METRICS_TOKEN_FILE is not checked: the token guards read-only figures and is
        // shared with the scraper by design (compose gives it 0444 so Prometheus can read it).
        var warnings: [ConfigProblem] = []
        func attempt<T>(_ body: () throws(ConfigProblem) -> T) -> T? {
            do { return try body() } catch {
                problems.append(error)
                return nil
            }
        }
        // Every setting goes through Environment.value, so NAME_FILE works for all of them.
        func setting(_ name: String) -> Environment.Sourced? {
            attempt { () throws(ConfigProblem) in try env.value(name, secret: secretVariables.contains(name)) } ?? nil
        }
        let listenSetting = listenOverride == nil ? setting("GATEWAY_LISTEN") : nil
        let listen = attempt { () throws(ConfigProblem) in
            try ListenAddress(parsing: listenOverride ?? listenSetting?.value ?? defaultListen,
                source: listenOverride != nil ? "--listen" : listenSetting?.source ?? "GATEWAY_LISTEN")
        }
        let instance = setting("GATEWAY_INSTANCE")?.value ?? HostName.current ?? "gateway"

        let insecure = attempt { () throws(ConfigProblem) in try Self.flag(setting("GATEWAY_INSECURE_NO_AUTH")) } ?? false
        let requireSync = attempt { () throws(ConfigProblem) in try Self.flag(setting("GATEWAY_REQUIRE_CLOCK_SYNC")) } ?? false
        let metricsToken = setting("GATEWAY_METRICS_TOKEN")
        let perLabelSetting = setting("GATEWAY_METRICS_PER_LABEL")
        let perLabel = perLabelSetting == nil ? metricsToken != nil
            : attempt { () throws(ConfigProblem) in try Self.flag(perLabelSetting) } ?? false
        let rateText = setting("GATEWAY_RATE_LIMIT")?.value ?? "600/min"
        let burstText = setting("GATEWAY_RATE_BURST")?.value
        let rate = attempt { () throws(ConfigProblem) in try RateLimit.parse(rateText, burst: burstText) } ?? nil
        // 10 failures, then one every 6 s: a client with a mistyped token notices at once, a
        // guessing loop gets 1,440 tries a day per address instead of thousands a second.
        let failureSetting = setting("GATEWAY_AUTH_FAILURE_LIMIT")
        let failureLimit = attempt { () throws(ConfigProblem) in
            try RateLimit.parse(failureSetting?.value ?? "10/min", burst: nil, source: failureSetting?.source ?? "GATEWAY_AUTH_FAILURE_LIMIT")
        } ?? nil
        var auditKey: [UInt8]? = nil
        if let path = env["GATEWAY_AUDIT_KEY_FILE"], !path.isEmpty {
            auditKey = attempt { () throws(ConfigProblem) in
                try Self.auditKey(path: path, source: "GATEWAY_AUDIT_KEY_FILE", optional: false, warnings: &warnings)
            } ?? nil
        } else if let dir = env["CREDENTIALS_DIRECTORY"], !dir.isEmpty {
            auditKey = attempt { () throws(ConfigProblem) in
                try Self.auditKey(path: dir + "/audit-key", source: "credential audit-key (\(dir))", optional: true, warnings: &warnings)
            } ?? nil
        }
        let drainSetting = setting("GATEWAY_DRAIN_SECONDS")
        let drain = attempt { () throws(ConfigProblem) in try Self.seconds(drainSetting, default: defaultDrainSeconds) } ?? defaultDrainSeconds
        let graceSetting = setting("GATEWAY_SHUTDOWN_GRACE_SECONDS")
        let grace = attempt { () throws(ConfigProblem) in try Self.seconds(graceSetting, default: 10) } ?? 10
        let proxiesText = setting("GATEWAY_TRUSTED_PROXIES")?.value ?? ""
        let proxies = attempt { () throws(ConfigProblem) in try TrustedProxies(parsing: proxiesText) } ?? TrustedProxies()
        func positiveSeconds(_ name: String, _ fallback: Double) -> Double {
            let value = attempt { () throws(ConfigProblem) in try Self.seconds(setting(name), default: fallback) } ?? fallback
            if value <= 0 { problems.append(ConfigProblem(source: name, message: "must be more than 0 seconds")) }
            return value
        }
        let headerTimeout = positiveSeconds("GATEWAY_HEADER_TIMEOUT_SECONDS", 10)
        let idleTimeout = positiveSeconds("GATEWAY_IDLE_TIMEOUT_SECONDS", 60)
        let writeTimeout = positiveSeconds("GATEWAY_WRITE_TIMEOUT_SECONDS", 10)
        var maxConnections = 4096
        if let t = setting("GATEWAY_MAX_CONNECTIONS") {
            if let n = Int(t.value), (1...1_000_000).contains(n) { maxConnections = n } else {
                problems.append(ConfigProblem(source: t.source, message: "must be a number from 1 to 1000000"))
            }
        }
        // 256: HAProxy's per-server maxconn (infra/haproxy), so even a proxy not listed in
        // GATEWAY_TRUSTED_PROXIES is not starved; far below the 4096 cap, so one client holding
        // idle sockets leaves 15/16 of the slots to everyone else.
        var maxPerClient = 256
        if let t = setting("GATEWAY_MAX_CONNECTIONS_PER_CLIENT") {
            if let n = Int(t.value), (0...1_000_000).contains(n) { maxPerClient = n } else {
                problems.append(ConfigProblem(source: t.source, message: "must be a number from 0 (no limit) to 1000000"))
            }
        }
        var level = LogLevel.info
        if let l = setting("GATEWAY_LOG_LEVEL") {
            if let parsed = LogLevel(parsing: l.value) { level = parsed } else {
                problems.append(ConfigProblem(source: l.source, message: "must be debug, info, warning or error"))
            }
        }
        var loops: Int? = nil
        if let t = setting("GATEWAY_EVENT_LOOPS") {
            if let n = Int(t.value), (1...256).contains(n) { loops = n } else {
                problems.append(ConfigProblem(source: t.source, message: "must be a number from 1 to 256"))
            }
        }
        if !problems.isEmpty { throw ConfigError(problems) }
        var config = GatewayConfiguration(
            listen: listen!, instance: instance, insecureNoAuth: insecure,
            metricsTokenHash: metricsToken.map { Crypto.sha256(Array($0.value.utf8)) }, metricsPerLabel: perLabel, rateLimit: rate, authFailureLimit: failureLimit,
            auditFile: env["GATEWAY_AUDIT_FILE"].flatMap { $0.isEmpty ? nil : $0 }, auditKey: auditKey,
            drainSeconds: drain, shutdownGraceSeconds: grace, trustedProxies: proxies, requireClockSync: requireSync,
            logLevel: level, eventLoops: loops, headerTimeoutSeconds: headerTimeout, idleTimeoutSeconds: idleTimeout,
            writeTimeoutSeconds: writeTimeout, maxConnections: maxConnections,
            maxConnectionsPerClient: maxPerClient)
        config.warnings = warnings
        return config
    }

    /// `GATEWAY_*_FILE` and `TOTP_*_FILE` variables the gateway would not read: refused, because
    /// a mistyped name (GATEWAY_LISTN_FILE) would otherwise be ignored. totp-bot's own
    /// `GATEWAY_TOKEN_FILE` and `GATEWAY_CA_FILE` are let through: one environment file may
    /// serve both programs.
    static func unknownFileVariables(_ env: Environment) -> [ConfigProblem] {
        let known = Set(fileVariables)
        var problems: [ConfigProblem] = []
        for name in env.values.keys.sorted() where name.hasSuffix("_FILE") && (name.hasPrefix("GATEWAY_") || name.hasPrefix("TOTP_")) {
            let base = String(name.dropLast("_FILE".count))
            if pathVariables.contains(name) || known.contains(base) || name.hasPrefix("TOTP_SEED_") { continue }
            if name == "GATEWAY_TOKEN_FILE" || name == "GATEWAY_CA_FILE" { continue }  // totp-bot's
            let hint = pathVariables.contains(base)
                ? "; \(base) is already a path, so it has no _FILE variant" : "; see totp-gateway --help for the variables"
            problems.append(ConfigProblem(source: name, message: "is not a totp-gateway variable and would be ignored\(hint)"))
        }
        return problems
    }

    /// The audit HMAC key in `path`: at least 16 bytes, trailing newlines dropped. An `optional`
    /// file (the systemd credential) may be missing, but not unreadable; its mode is systemd's.
    /// Any other key file must not be accessible to group or others (`FilePermissions`).
    static func auditKey(path: String, source: String, optional: Bool, warnings: inout [ConfigProblem]) throws(ConfigProblem) -> [UInt8]? {
        var bytes: [UInt8]
        let mode: UInt32
        do {
            let read = try FileIO.readStable(path, maxBytes: 4096)
            bytes = read.bytes
            mode = read.version.mode
        } catch {
            if optional && error.isNotFound { return nil }
            throw optional ? ConfigProblem(source: source, message: error.description) : .unreadableFile(error, variable: source)
        }
        if !optional {
            var problems: [ConfigProblem] = []
            FilePermissions.record(FilePermissions.keyFinding(path: path, mode: mode, what: "the audit key"), source: source,
                problems: &problems, warnings: &warnings)
            if let first = problems.first { throw first }
        }
        // `openssl rand -hex 32 > FILE` leaves a newline that `$(cat FILE)` would drop.
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        guard bytes.count >= 16 else {
            throw ConfigProblem(source: source, message: "the audit key must hold at least 16 bytes (openssl rand -hex 32 > FILE)")
        }
        return bytes
    }

    static func flag(_ setting: Environment.Sourced?) throws(ConfigProblem) -> Bool {
        guard let setting else { return false }
        switch setting.value.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigProblem(source: setting.source, message: "must be 1 or 0 (true/false)")
        }
    }

    static func seconds(_ setting: Environment.Sourced?, default value: Double) throws(ConfigProblem) -> Double {
        guard let setting else { return value }
        guard let d = Double(setting.value), d >= 0, d <= 3600 else {
            throw ConfigProblem(source: setting.source, message: "must be a number of seconds from 0 to 3600")
        }
        return d
    }
}
