#if canImport(Glibc)
import Glibc
#endif
import Platform
import Crypto
import TLS

/// Everything `totp-gateway` reads at start-up, parsed and validated once. Seeds and tokens are
/// loaded separately (`GatewaySnapshot`) because SIGHUP reloads them.
///
/// ```swift
/// let config = try GatewayConfiguration.load(environment: .current(), listenOverride: nil)
/// ```
struct GatewayConfiguration: Sendable {
    var listen: ListenAddress
    var instance: String
    var insecureNoAuth: Bool
    var metricsTokenHash: [UInt8]?
    /// `/metrics` has a `gateway_codes_issued_total` series per label (which names every label
    /// and shows when each is fetched): `GATEWAY_METRICS_PER_LABEL` when set, nil for the default
    /// (`perLabelSeries(labels:)`).
    var metricsPerLabel: Bool?
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
    /// The listener's TLS files and their checked context; nil: plain HTTP.
    var tlsFiles: TLSFiles?
    var tls: TLSContext?
    /// Findings that do not stop the gateway (secret files a container runtime made readable).
    var warnings: [ConfigProblem] = []

    /// The variables that may also be given as `NAME_FILE`, from the settings table.
    static var fileVariables: [String] { GatewaySettings.table.fileVariables }

    static func load(environment env: Environment, listenOverride: String?) throws(ConfigError) -> GatewayConfiguration {
        typealias S = GatewaySettings
        var reader = SettingsReader(env)
        for problem in S.table.unknownFileVariables(env, prefixes: ["GATEWAY_", "TOTP_"]) { reader.record(problem) }
        // GATEWAY_METRICS_TOKEN_FILE is not checked: the token guards read-only figures and is
        // shared with the scraper by design (compose gives it 0444 so Prometheus can read it).
        var warnings: [ConfigProblem] = []
        let listen: ListenAddress? = if let listenOverride {
            reader.attempt { () throws(ConfigProblem) in try ListenAddress(parsing: listenOverride, source: "--listen") }
        } else {
            reader.value(S.listen)
        }
        let instance = reader.optional(S.instance) ?? HostName.current ?? "gateway"
        let insecure = reader.value(S.insecureNoAuth)
        let requireSync = reader.value(S.requireClockSync)
        let metricsToken = reader.optional(S.metricsToken)
        let perLabel = reader.optional(S.metricsPerLabel)
        let rateText = reader.sourced(S.rateLimit)
        let burstText = reader.sourced(S.rateBurst)
        let rate = reader.attempt { () throws(ConfigProblem) in
            try RateLimit.parse(rateText?.value ?? S.rateLimit.defaultValue!, burst: burstText?.value,
                source: rateText?.source ?? S.rateLimit.info.name, burstSource: burstText?.source ?? S.rateBurst.info.name)
        } ?? nil
        let failureText = reader.sourced(S.authFailureLimit)
        let failureLimit = reader.attempt { () throws(ConfigProblem) in
            try RateLimit.parse(failureText?.value ?? S.authFailureLimit.defaultValue!, burst: nil, source: failureText?.source ?? S.authFailureLimit.info.name)
        } ?? nil
        var auditKey: [UInt8]? = nil
        if let path = reader.optional(S.auditKeyFile) {
            auditKey = reader.attempt { () throws(ConfigProblem) in
                try Self.auditKey(path: path, source: S.auditKeyFile.info.name, optional: false, warnings: &warnings)
            } ?? nil
        } else if let dir = reader.optional(S.credentials) {
            auditKey = reader.attempt { () throws(ConfigProblem) in
                try Self.auditKey(path: dir + "/audit-key", source: "credential audit-key (\(dir))", optional: true, warnings: &warnings)
            } ?? nil
        }
        let drain = reader.value(S.drain)
        let grace = reader.value(S.shutdownGrace)
        let proxiesText = reader.optional(S.trustedProxies) ?? ""
        let proxies = reader.attempt { () throws(ConfigProblem) in try TrustedProxies(parsing: proxiesText) } ?? TrustedProxies()
        let headerTimeout = reader.value(S.headerTimeout)
        let idleTimeout = reader.value(S.idleTimeout)
        let writeTimeout = reader.value(S.writeTimeout)
        let maxConnections = reader.value(S.maxConnections)
        let maxPerClient = reader.value(S.maxConnectionsPerClient)
        let level = reader.value(S.logLevel)
        let loops = reader.optional(S.eventLoops)
        let auditFile = reader.optional(S.auditFile)
        let certificate = reader.optional(S.tlsCertFile), key = reader.optional(S.tlsKeyFile), clientCA = reader.optional(S.tlsClientCAFile)
        let credentials = reader.optional(S.credentials)
        let tlsFiles = reader.attempt { () throws(ConfigProblem) in
            try Self.tlsFiles(certificate: certificate, key: key, clientCA: clientCA, credentials: credentials)
        } ?? nil
        let tls = tlsFiles.flatMap { files in reader.attempt { () throws(ConfigProblem) in try Self.tlsContext(files, warnings: &warnings) } }
        if !reader.problems.isEmpty { throw ConfigError(reader.problems) }
        var config = GatewayConfiguration(
            listen: listen!, instance: instance, insecureNoAuth: insecure,
            metricsTokenHash: metricsToken.map { Crypto.sha256(Array($0.utf8)) }, metricsPerLabel: perLabel, rateLimit: rate,
            authFailureLimit: failureLimit, auditFile: auditFile, auditKey: auditKey,
            drainSeconds: drain.inSeconds, shutdownGraceSeconds: grace.inSeconds, trustedProxies: proxies, requireClockSync: requireSync,
            logLevel: level, eventLoops: loops, headerTimeoutSeconds: headerTimeout.inSeconds, idleTimeoutSeconds: idleTimeout.inSeconds,
            writeTimeoutSeconds: writeTimeout.inSeconds, maxConnections: maxConnections,
            maxConnectionsPerClient: maxPerClient)
        config.warnings = warnings
        config.tlsFiles = tlsFiles
        config.tls = tls
        return config
    }

    /// Whether `/metrics` splits codes issued by label, for a configuration of `labels` labels:
    /// as set, else only behind a metrics token (the series name every label) and only up to
    /// `GatewaySettings.perLabelSeriesLimit` labels (30,000 series were 1.5 MB a scrape). Decided
    /// once at start; a reload keeps the families it started with.
    func perLabelSeries(labels: Int) -> Bool {
        metricsPerLabel ?? (metricsTokenHash != nil && labels <= GatewaySettings.perLabelSeriesLimit)
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
}
