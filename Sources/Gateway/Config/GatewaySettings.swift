import Platform

/// Every environment variable `totp-gateway` reads, declared once: the configuration, the seed
/// loader and the token set read them through these declarations, `--help` lists them, the
/// unknown-`*_FILE` check knows them, and a test holds the README's tables to them. A new
/// variable is one line here (and its line in the README).
///
/// ```swift
/// var reader = SettingsReader(environment)
/// let drain = reader.value(GatewaySettings.drain)      // Duration, 3 s by default
/// print(GatewaySettings.table.help())
/// ```
enum GatewaySettings {
    // MARK: Server

    static let listen = Setting.listenAddress("GATEWAY_LISTEN", default: "127.0.0.1:8080", help: "HOST:PORT to listen on (--listen wins)")
    static let instance = Setting.text("GATEWAY_INSTANCE", documented: "hostname", help: "instance name in responses, logs and metrics")
    static let eventLoops = Setting.count("GATEWAY_EVENT_LOOPS", default: nil, range: 1...256, documented: "one per CPU", help: "event-loop threads")
    /// HAProxy (infra/haproxy/haproxy.cfg) checks every 1 s and, after a first failure, every
    /// 250 ms with fall 2 and 250 ms check timeouts: a draining instance is out of the pool at
    /// most 1.75 s after /healthz turns 503. 3 s leaves margin for a slow check.
    static let drain = Setting.seconds("GATEWAY_DRAIN_SECONDS", default: 3, range: 0...3600,
        help: "on SIGTERM, seconds /healthz answers 503 before the listener closes (3: HAProxy's inter 1s, fastinter 250ms, fall 2)")
    static let shutdownGrace = Setting.seconds("GATEWAY_SHUTDOWN_GRACE_SECONDS", default: 10, range: 0...3600,
        help: "seconds in-flight requests get after the drain")
    static let headerTimeout = Setting.seconds("GATEWAY_HEADER_TIMEOUT_SECONDS", default: 10, range: 0...3600, zero: false,
        help: "a request head must arrive within this many seconds (slowloris)")
    static let idleTimeout = Setting.seconds("GATEWAY_IDLE_TIMEOUT_SECONDS", default: 60, range: 0...3600, zero: false,
        help: "keep-alive connections idle this many seconds are closed")
    static let writeTimeout = Setting.seconds("GATEWAY_WRITE_TIMEOUT_SECONDS", default: 10, range: 0...3600, zero: false,
        help: "a client not reading its response for this many seconds is dropped")
    static let maxConnections = Setting.count("GATEWAY_MAX_CONNECTIONS", default: 4096, range: 1...1_000_000,
        help: "open connections; at the cap the connection idle longest is closed for a new one, or the new one if none is idle")
    // 256: HAProxy's per-server maxconn (infra/haproxy), so even a proxy not listed in
    // GATEWAY_TRUSTED_PROXIES is not starved; far below the 4096 cap, so one client holding
    // idle sockets leaves 15/16 of the slots to everyone else.
    static let maxConnectionsPerClient = Setting.count("GATEWAY_MAX_CONNECTIONS_PER_CLIENT", default: 256, range: 0...1_000_000,
        zero: "no limit", help: "open connections per client address; more are closed at once (0: no limit; GATEWAY_TRUSTED_PROXIES exempt)")
    static let logLevel = Setting.logLevel("GATEWAY_LOG_LEVEL", default: .info, help: "debug | info | warning | error")

    // MARK: TLS

    static let tlsCertFile = Setting.path("GATEWAY_TLS_CERT_FILE", documented: "plain HTTP",
        help: "PEM certificate chain, leaf first: the listener speaks TLS 1.2/1.3 only (needs GATEWAY_TLS_KEY_FILE; or the tls-cert credential)")
    static let tlsKeyFile = Setting.path("GATEWAY_TLS_KEY_FILE",
        help: "PEM private key of that certificate, unencrypted, mode 0600 (or the tls-key credential); SIGHUP reloads the pair")
    static let tlsClientCAFile = Setting.path("GATEWAY_TLS_CLIENT_CA_FILE", documented: "no client certificates",
        help: "mutual TLS: clients must present a certificate from a CA in this PEM file; its CN is audited as client_cert (or the tls-client-ca credential)")

    // MARK: Seeds

    static let seed = Setting.family(prefix: "TOTP_SEED_", placeholder: "<LABEL>", kind: .secret,
        help: "base32 or otpauth://totp/ URI; label = suffix lower-cased, _ -> - (cannot end in -file: TOTP_SEED_<LABEL>_FILE is the file variant)")
    static let labels = Setting.secret("LABELS", help: "the original project's format \"label:seed,label2:seed2\"")
    static let period = Setting.count("TOTP_PERIOD", default: 30, range: 1...3600, unit: "seconds",
        help: "period of plain base32 seeds from the environment")
    static let digits = Setting.choice("TOTP_DIGITS", ["6", "7", "8"], default: "6", help: "digits of plain base32 seeds from the environment")
    static let seedsFile = Setting.path("GATEWAY_SEEDS_FILE", help: "file of \"label = seed [check=CODE@UNIXTIME]\" lines, or a sealed file")
    /// 4 MiB: about 89,000 plain lines of a 32-character seed (47 bytes each), 43,000 sealed.
    static let seedsFileMaxBytes = Setting.count("GATEWAY_SEEDS_FILE_MAX_BYTES", default: 4 << 20, range: 4096...(1 << 30), unit: "bytes", file: false,
        help: "largest seeds file read (GATEWAY_SEEDS_FILE, the seeds credential); guards against reading a runaway or wrong file into memory")
    static let seedsKeyFile = Setting.path("GATEWAY_SEEDS_KEY_FILE",
        help: "key of a sealed seeds file: 256 bits as 64 hex characters (openssl rand -hex 32), as base64, or as 32 raw bytes (not text)")
    static let credentials = Setting.path("CREDENTIALS_DIRECTORY",
        help: "set by systemd (LoadCredential=): seeds, seeds-key, tokens, audit-key, totp-seed-<label>, tls-cert, tls-key, tls-client-ca")

    // MARK: Clients

    static let tokens = Setting.secret("GATEWAY_TOKENS", documented: "none",
        help: "\"name:secret:labels\" entries separated by ; or newlines; labels is * or a comma list; secret may be sha256:<hex>; secrets under 128 bits are refused (openssl rand -hex 32)")
    static let apiKey = Setting.secret("API_KEY", help: "the original project's key: one token allowed every label")
    // 10 failures, then one every 6 s: a client with a mistyped token notices at once, a
    // guessing loop gets 1,440 tries a day per address instead of thousands a second.
    static let authFailureLimit = Setting.text("GATEWAY_AUTH_FAILURE_LIMIT", kind: .custom("rate"), default: "10/min",
        help: "failed authentications per client address before 429")
    static let insecureNoAuth = Setting.flag("GATEWAY_INSECURE_NO_AUTH", default: false,
        help: "1: serve /code without tokens (demo only; logged loudly)")
    static let rateLimit = Setting.text("GATEWAY_RATE_LIMIT", kind: .custom("rate"), default: "600/min",
        help: "per-token limit, e.g. 60/min, 10/s, 100/hour, off")
    static let rateBurst = Setting.text("GATEWAY_RATE_BURST", kind: .custom("count"), documented: "the per-period count",
        help: "bucket size of the per-token limit")
    static let metricsToken = Setting.secret("GATEWAY_METRICS_TOKEN", documented: "open", help: "if set, /metrics needs Authorization: Bearer <it>")
    // Names every label and shows when each is fetched: by default only behind the metrics token,
    // and only while the labels are few enough for a scrape to stay small.
    static let metricsPerLabel = Setting.flag("GATEWAY_METRICS_PER_LABEL", default: nil,
        documented: "auto: 1 with a metrics token and at most 1000 labels, else 0",
        help: "1: codes issued per label in /metrics (names every label; one series per label); 0: one total")
    /// Above this many labels the per-label series are off unless asked for (decided at start).
    static let perLabelSeriesLimit = 1_000
    static let trustedProxies = Setting.text("GATEWAY_TRUSTED_PROXIES", kind: .custom("addresses"), documented: "none",
        help: "IPv4/IPv6 addresses or IPv4 CIDRs whose X-Forwarded-For is logged in the audit")

    // MARK: Audit

    static let auditFile = Setting.path("GATEWAY_AUDIT_FILE", documented: "stderr",
        help: "append audit lines here instead of stderr; no code leaves unless its line was written (else 503 audit_unavailable)")
    static let auditKeyFile = Setting.path("GATEWAY_AUDIT_KEY_FILE", documented: "no HMAC",
        help: "key for code_hmac = HMAC-SHA256(key, \"label:code\") in audit lines")
    static let requireClockSync = Setting.flag("GATEWAY_REQUIRE_CLOCK_SYNC", default: false,
        help: "1: /healthz is 503 while adjtimex reports an unsynchronized clock")

    static let table = SettingsTable(
        program: "totp-gateway",
        sections: [
            .init("SERVER", [listen, instance, eventLoops, drain, shutdownGrace, headerTimeout, idleTimeout, writeTimeout,
                maxConnections, maxConnectionsPerClient, logLevel]),
            .init("TLS", [tlsCertFile, tlsKeyFile, tlsClientCAFile]),
            .init("SEEDS (all optional and combinable; a label defined twice is an error)",
                [seed, labels, period, digits, seedsFile, seedsFileMaxBytes, seedsKeyFile, credentials]),
            .init("CLIENTS", [tokens, apiKey, authFailureLimit, insecureNoAuth, rateLimit, rateBurst, metricsToken, metricsPerLabel,
                trustedProxies]),
            .init("AUDIT", [auditFile, auditKeyFile, requireClockSync]),
        ],
        // totp-bot's, from an environment file both programs read (tested against its table).
        otherPrograms: ["GATEWAY_URLS_FILE", "GATEWAY_TOKEN_FILE", "GATEWAY_CA_FILE", "GATEWAY_CLIENT_CERT_FILE", "GATEWAY_CLIENT_KEY_FILE"])
}
