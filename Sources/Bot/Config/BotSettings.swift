import Platform

/// Every environment variable `totp-bot` reads, declared once: `BotConfiguration` reads them
/// through these declarations, `--help` lists them, and a test holds the README's table to
/// them. Secrets and the Zulip client's variables take `NAME_FILE`; the tuning knobs do not.
///
/// ```swift
/// var reader = SettingsReader(environment)
/// let deadline = reader.value(BotSettings.replyDeadline)   // 10 s unless set
/// print(BotSettings.table.help())
/// ```
enum BotSettings {
    // MARK: Zulip

    static let zuliprc = Setting.path("ZULIP_CONFIG",
        help: "zuliprc file ([api] email, key, site, cert_bundle, insecure), like --zuliprc; the variables below take precedence")
    static let site = Setting.text("ZULIP_SITE", aliases: ["ZULIP_ORG_URL"], documented: "required",
        help: "the Zulip server's URL, e.g. https://chat.example.com")
    static let email = Setting.text("ZULIP_EMAIL", aliases: ["ZULIP_BOT_EMAIL"], documented: "required", help: "the bot's email")
    static let apiKey = Setting.secret("ZULIP_API_KEY", aliases: ["ZULIP_BOT_TOKEN"], documented: "required", help: "the bot's API key")
    static let zulipCA = Setting.path("ZULIP_CERT_BUNDLE", documented: "system store", help: "CA bundle for the Zulip server's certificate")
    static let allowInsecure = Setting.choice("ZULIP_ALLOW_INSECURE", ["true", "false"], default: "false", file: false,
        help: "only false is accepted (overrides the zuliprc's insecure): the bot always verifies Zulip's certificate, so true is refused (exit 2)")

    // MARK: Gateways

    static let gatewayURLs = Setting.urlList("GATEWAY_URLS", documented: "required",
        help: "comma-separated gateway base URLs (HAProxy and/or instances), tried with failover")
    static let gatewayToken = Setting.secret("GATEWAY_TOKEN", documented: "required", help: "bearer token the gateways know for the bot")
    static let gatewayCA = Setting.path("GATEWAY_CA_FILE", documented: "system store", help: "CA bundle for https gateways")
    static let gatewayClientCert = Setting.path("GATEWAY_CLIENT_CERT_FILE", documented: "none",
        help: "PEM client certificate for gateways that require mutual TLS (GATEWAY_TLS_CLIENT_CA_FILE); needs GATEWAY_CLIENT_KEY_FILE")
    static let gatewayClientKey = Setting.path("GATEWAY_CLIENT_KEY_FILE", help: "its unencrypted PEM private key, mode 0600")
    static let attemptTimeout = Setting.milliseconds("BOT_GATEWAY_ATTEMPT_TIMEOUT_MS", default: 1500, range: 50...60000, file: false,
        help: "limit per gateway attempt")
    static let gatewayDeadline = Setting.milliseconds("BOT_GATEWAY_DEADLINE_MS", default: 4000, range: 100...60000, file: false,
        help: "limit per code request, failovers included; when no gateway answers, the user is told to try again")

    // MARK: Access

    static let acl = Setting.text("BOT_ACL", kind: .custom("access list"), documented: "empty",
        help: "\"alice@example.com:*;bob@example.com:certus,github;42:demo;@ops:prod\": sender (email, case-insensitive in ASCII only, Zulip user id, or @group: its members now) : * or a comma list of labels; an email grants the one active account that has it now; BOT_ACL_FILE takes one entry per line (# comments; \"who = labels\" too, needed for a group name with a colon)")
    static let policy = Setting.text("BOT_POLICY", kind: .custom("access policies"), documented: "none",
        help: "approvals per label, one line per label or * (lines also split by ;): \"prod: approvers=@ops-leads,carol@example.com approvals=2 reason=required grant=30m timeout=10m notify=stream:security/codes\"; approvers: emails, user ids, @groups; approvals: distinct approvers needed, never the requester (default 1); reason: required|optional; grant: how long an approval covers further codes (default 0: one code); timeout: when an unanswered request expires (default 10m); notify: stream:NAME/TOPIC or dm:@group,email announces each code handed out, never the code; \"label:\" alone exempts a label from *; a label without a policy is handed out at once; BOT_POLICY_FILE takes one policy per line (# comments), mistakes name the line")
    static let allowedSenders = Setting.text("ALLOWED_SENDERS", file: false,
        help: "the original project's comma-separated senders, each granted *")
    static let userRateBurst = Setting.count("BOT_USER_RATE_BURST", default: 5, range: 1...1000, file: false,
        help: "requests a user may make at once")
    static let userRatePerMinute = Setting.number("BOT_USER_RATE_PER_MINUTE", default: 10, range: 0.01...6000, file: false,
        help: "sustained requests per user per minute; over it a user is told once when to retry, then not answered until then")

    // MARK: Leader election and state

    static let lockFile = Setting.path("BOT_LOCK_FILE", documented: "$BOT_STATE_DIR/leader.lock",
        help: "flock()ed by every bot: the holder leads, the others wait and take over at once when it dies; elects one leader per host (or per shared file system whose flock works across clients); $BOT_STATE_DIR/leader.lock is locked too")
    static let stateDir = Setting.path("BOT_STATE_DIR", default: "/var/lib/totp-bot",
        help: "watermark.json: the watermark, the replies above it, sends in doubt, pending expiry edits, the access workflow's requests, votes, grants and messages owed, the leader's epoch")
    static let catchUpMaxAge = Setting.seconds("BOT_CATCHUP_MAX_AGE", default: 120, range: 0...86400, file: false,
        help: "after a takeover, a lost queue or a failed reply, DMs after the watermark younger than this many seconds are answered, each once")

    static let election = Setting.choice("BOT_ELECTION", ["lockfile", "etcd"], default: "lockfile", file: false,
        help: "lockfile: the lock files elect one leader per host; etcd: an etcd lease elects one leader across hosts, and the state and the claim of every answered DM live in etcd under the leader's fence (BOT_LOCK_FILE and BOT_STATE_DIR are then unused)")
    static let etcdEndpoints = Setting.text("BOT_ETCD_ENDPOINTS", kind: .custom("URL list"), file: false, documented: "required with etcd",
        help: "comma-separated etcd client URLs (http://host:port, https://host:port, unix:///path, unixs:///path), tried with failover")
    static let etcdPrefix = Setting.text("BOT_ETCD_PREFIX", default: "/totp-bot/", file: false,
        help: "key prefix of the leader key, the state document and the claims; bots that share it elect one leader")
    static let etcdLease = Setting.count("BOT_ETCD_LEASE_SECONDS", default: 5, range: 2...60, file: false,
        help: "lease TTL: a dead leader is replaced within it, and a leader that cannot renew stops acting 1 s before it runs out")
    static let etcdCA = Setting.path("BOT_ETCD_CA_FILE", documented: "system store", help: "CA bundle for https/unixs etcd members")
    static let etcdCert = Setting.path("BOT_ETCD_CERT_FILE", help: "client certificate (PEM) for members started with --client-cert-auth; needs BOT_ETCD_KEY_FILE")
    static let etcdKey = Setting.path("BOT_ETCD_KEY_FILE", help: "private key (PEM) of BOT_ETCD_CERT_FILE")

    // MARK: Replies

    static let replyDeadline = Setting.milliseconds("BOT_REPLY_DEADLINE_MS", default: 10000, range: 100...120000, file: false,
        help: "how long a reply is retried (5xx, network errors, 429) before the DM is left for the next catch-up")
    static let expiryEdit = Setting.flag("BOT_EXPIRY_EDIT", default: true, file: false,
        help: "edit replies once the code expired; pending edits are kept in BOT_STATE_DIR, so a new leader finishes them")
    static let expiryEditDelay = Setting.seconds("BOT_EXPIRY_EDIT_DELAY", default: 0, range: 0...3600, file: false,
        help: "extra seconds after expiry before the edit")

    // MARK: Operations

    static let listen = Setting.listenAddress("BOT_LISTEN", default: nil, file: false, documented: "off",
        help: "HOST:PORT for /healthz and /metrics, e.g. 127.0.0.1:9101; /healthz is 503 \"degraded\" while the leader cannot save its state")
    static let logLevel = Setting.logLevel("BOT_LOG_LEVEL", default: .info, file: false, help: "debug | info | warning | error")
    static let backoffInitial = Setting.milliseconds("BOT_BACKOFF_INITIAL_MS", default: 1000, range: 10...600000, file: false,
        help: "first Zulip retry back-off")
    static let backoffMax = Setting.milliseconds("BOT_BACKOFF_MAX_MS", default: 60000, range: 10...3600000, file: false,
        help: "longest Zulip retry back-off")
    static let watchdogStall = Setting.seconds("BOT_WATCHDOG_STALL_SECONDS", default: 60, range: 1...3600, file: false,
        help: "a DM waiting or being answered longer than this stops the leader's WATCHDOG=1 pings, so systemd restarts it")

    static let table = SettingsTable(
        program: "totp-bot",
        sections: [
            .init("ZULIP", [zuliprc, site, email, apiKey, zulipCA, allowInsecure]),
            .init("GATEWAYS", [gatewayURLs, gatewayToken, gatewayCA, gatewayClientCert, gatewayClientKey, attemptTimeout, gatewayDeadline],
                note: "Up to 4 DMs are answered at once, each user's in order; while every gateway's circuit is open one request probes and the rest fail at once."),
            .init("ACCESS", [acl, policy, allowedSenders, userRateBurst, userRatePerMinute],
                note: "An empty access list gives nobody a code (the bot says so at start). Other bots' messages are never answered."),
            .init("LEADER ELECTION AND STATE", [lockFile, stateDir, catchUpMaxAge, election, etcdEndpoints, etcdPrefix, etcdLease, etcdCA, etcdCert, etcdKey],
                note: "A leader whose lock file is deleted or replaced, or (etcd) whose lease is not renewed in time, stops and exits 1 (restart it as a standby); across hosts use BOT_ELECTION=etcd (see README)."),
            .init("REPLIES", [replyDeadline, expiryEdit, expiryEditDelay]),
            .init("OPERATIONS", [listen, logLevel, backoffInitial, backoffMax, watchdogStall]),
        ])
}
