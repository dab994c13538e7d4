#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Everything `totp-gateway` reads at start-up, parsed and validated once. Seeds and tokens are
/// loaded separately (`GatewaySnapshot`) because SIGHUP reloads them.
///
/// ```swift
/// let config = try GatewayConfiguration.load(environment: .current(), listenOverride: nil)
/// ```
struct GatewayConfiguration: Sendable {
    static let defaultListen = "127.0.0.1:8080"
    /// HAProxy (infra/haproxy/haproxy.cfg) checks every 1 s and, after a first failure, every
    /// 250 ms with fall 2: a draining instance is out of the pool at most ~1.25 s (plus one
    /// 500 ms check timeout) after /healthz turns 503. 3 s leaves margin for a slow check.
    static let defaultDrainSeconds = 3.0

    var listen: ListenAddress
    var instance: String
    var insecureNoAuth: Bool
    var metricsTokenHash: [UInt8]?
    var rateLimit: RateLimit?
    var auditFile: String?
    var auditKey: [UInt8]?
    var drainSeconds: Double
    var shutdownGraceSeconds: Double
    var trustedProxies: TrustedProxies
    var requireClockSync: Bool
    var logLevel: LogLevel
    var eventLoops: Int?

    static func load(environment env: Environment, listenOverride: String?) throws(ConfigError) -> GatewayConfiguration {
        var problems: [ConfigProblem] = []
        func attempt<T>(_ body: () throws(ConfigProblem) -> T) -> T? {
            do { return try body() } catch {
                problems.append(error)
                return nil
            }
        }
        let listenText = listenOverride ?? env["GATEWAY_LISTEN"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultListen
        let listen = attempt { () throws(ConfigProblem) in
            try ListenAddress(parsing: listenText, source: listenOverride != nil ? "--listen" : "GATEWAY_LISTEN")
        }
        let instance = env["GATEWAY_INSTANCE"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.hostname()

        let insecure = attempt { () throws(ConfigProblem) in try Self.flag(env, "GATEWAY_INSECURE_NO_AUTH") } ?? false
        let requireSync = attempt { () throws(ConfigProblem) in try Self.flag(env, "GATEWAY_REQUIRE_CLOCK_SYNC") } ?? false
        let metricsToken = attempt { () throws(ConfigProblem) in try env.value("GATEWAY_METRICS_TOKEN") } ?? nil
        let rate = attempt { () throws(ConfigProblem) in
            try RateLimit.parse(env["GATEWAY_RATE_LIMIT"].flatMap { $0.isEmpty ? nil : $0 } ?? "600/min", burst: env["GATEWAY_RATE_BURST"])
        } ?? nil
        var auditKey: [UInt8]? = nil
        if let path = env["GATEWAY_AUDIT_KEY_FILE"], !path.isEmpty {
            auditKey = attempt { () throws(ConfigProblem) in try Self.auditKey(path: path, source: "GATEWAY_AUDIT_KEY_FILE", optional: false) } ?? nil
        } else if let dir = env["CREDENTIALS_DIRECTORY"], !dir.isEmpty {
            auditKey = attempt { () throws(ConfigProblem) in
                try Self.auditKey(path: dir + "/audit-key", source: "credential audit-key (\(dir))", optional: true)
            } ?? nil
        }
        let drain = attempt { () throws(ConfigProblem) in try Self.seconds(env, "GATEWAY_DRAIN_SECONDS", default: defaultDrainSeconds) } ?? defaultDrainSeconds
        let grace = attempt { () throws(ConfigProblem) in try Self.seconds(env, "GATEWAY_SHUTDOWN_GRACE_SECONDS", default: 10) } ?? 10
        let proxies = attempt { () throws(ConfigProblem) in try TrustedProxies(parsing: env["GATEWAY_TRUSTED_PROXIES"] ?? "") } ?? TrustedProxies()
        var level = LogLevel.info
        if let l = env["GATEWAY_LOG_LEVEL"], !l.isEmpty {
            if let parsed = LogLevel(parsing: l) { level = parsed } else {
                problems.append(ConfigProblem(source: "GATEWAY_LOG_LEVEL", message: "must be debug, info, warning or error"))
            }
        }
        var loops: Int? = nil
        if let t = env["GATEWAY_EVENT_LOOPS"], !t.isEmpty {
            if let n = Int(t), (1...256).contains(n) { loops = n } else {
                problems.append(ConfigProblem(source: "GATEWAY_EVENT_LOOPS", message: "must be a number from 1 to 256"))
            }
        }
        if !problems.isEmpty { throw ConfigError(problems) }
        return GatewayConfiguration(
            listen: listen!, instance: instance, insecureNoAuth: insecure,
            metricsTokenHash: metricsToken.map { Crypto.sha256(Array($0.value.utf8)) }, rateLimit: rate,
            auditFile: env["GATEWAY_AUDIT_FILE"].flatMap { $0.isEmpty ? nil : $0 }, auditKey: auditKey,
            drainSeconds: drain, shutdownGraceSeconds: grace, trustedProxies: proxies, requireClockSync: requireSync,
            logLevel: level, eventLoops: loops)
    }

    /// The audit HMAC key in `path`: at least 16 bytes, trailing newlines dropped. An `optional`
    /// file (the systemd credential) may be missing, but not unreadable.
    static func auditKey(path: String, source: String, optional: Bool) throws(ConfigProblem) -> [UInt8]? {
        var bytes: [UInt8]
        do { bytes = try FileIO.read(path, maxBytes: 4096) } catch {
            if optional && error.isNotFound { return nil }
            throw optional ? ConfigProblem(source: source, message: error.description) : .unreadableFile(error, variable: source)
        }
        // `openssl rand -hex 32 > FILE` leaves a newline that `$(cat FILE)` would drop.
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        guard bytes.count >= 16 else {
            throw ConfigProblem(source: source, message: "the audit key must hold at least 16 bytes (openssl rand -hex 32 > FILE)")
        }
        return bytes
    }

    static func flag(_ env: Environment, _ name: String) throws(ConfigProblem) -> Bool {
        guard let v = env[name], !v.isEmpty else { return false }
        switch v.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigProblem(source: name, message: "must be 1 or 0 (true/false)")
        }
    }

    static func seconds(_ env: Environment, _ name: String, default value: Double) throws(ConfigProblem) -> Double {
        guard let v = env[name], !v.isEmpty else { return value }
        guard let d = Double(v), d >= 0, d <= 3600 else {
            throw ConfigProblem(source: name, message: "must be a number of seconds from 0 to 3600")
        }
        return d
    }

    static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count) == 0 else { return "gateway" }
        return String(cString: buf)
    }
}
