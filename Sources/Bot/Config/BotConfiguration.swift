#if canImport(Glibc)
import Glibc
#endif
import Platform
import TextSupport

/// Everything `totp-bot` needs, read and validated once at start-up from the environment (and
/// a zuliprc). Secrets (`zulipAPIKey`, `gatewayToken`) never appear in `description`.
///
/// ```swift
/// let config = try BotConfiguration.load(environment: .current(), zuliprc: nil)
/// print(config)   // no secrets
/// ```
struct BotConfiguration: Sendable, CustomStringConvertible {
    var zulipSite: String
    var zulipEmail: String
    var zulipAPIKey: String
    var zulipCAFile: String?
    var gatewayURLs: [String]
    var gatewayToken: String
    var gatewayCAFile: String?
    /// Mutual TLS to the gateways: the bot's certificate and key (both or neither).
    var gatewayClientCertificateFile: String?
    var gatewayClientKeyFile: String?
    var gatewayAttemptTimeout: Duration
    var gatewayDeadline: Duration
    /// How long a reply is retried (5xx, network errors, 429) before the message is left for
    /// the next catch-up.
    var replyDeadline: Duration
    /// A DM waiting or being answered for longer than this means the reply path is stuck: the
    /// leader stops feeding systemd's watchdog.
    var watchdogStall: Duration
    var acl: AccessList
    /// `BOT_POLICY` / `BOT_POLICY_FILE`: approvals, grants and notifications per label.
    var policies = AccessPolicies()
    var lockFile: String
    var stateDir: String
    /// `BOT_ELECTION=etcd`: the election, the state and the claims live in etcd; nil with the lock files.
    var etcd: BotEtcdSettings? = nil
    var listen: ListenAddress?
    /// Seconds.
    var catchUpMaxAge: Int
    var expiryEdit: Bool
    /// Seconds after the code's window ends before the reply is edited (0 = at once).
    var expiryEditDelay: Double
    var backoffInitial: Duration
    var backoffMax: Duration
    var userRateBurst: Int
    var userRatePerMinute: Double
    var logLevel: LogLevel

    /// The Zulip API base, e.g. `https://chat.example.com/api/v1`.
    var zulipAPIBase: String { zulipSite + "/v1" }

    var description: String {
        "BotConfiguration(site: \(zulipSite), email: \(zulipEmail), key: <hidden>, gateways: \(gatewayURLs), token: <hidden>, "
            + "acl entries: \(acl.count), lock: \(lockFile), state: \(stateDir), election: \(etcd == nil ? "lockfile" : "etcd"))"
    }

    /// Zulip's site normalisation (python-zulip-api): `localhost...` gets `http://`, other values
    /// without a scheme `https://`, trailing `/` removed, `/api` appended.
    static func normalizeSite(_ raw: String) -> String {
        var site = raw.trimmingCharacters(in: " \t")
        if !site.hasPrefix("http://") && !site.hasPrefix("https://") {
            site = (site.hasPrefix("localhost") ? "http://" : "https://") + site
        }
        while site.hasSuffix("/") { site.removeLast() }
        if !site.hasSuffix("/api") { site += "/api" }
        return site
    }

    static func load(environment env: Environment, zuliprcPath: String?) throws(ConfigError) -> BotConfiguration {
        typealias S = BotSettings
        var reader = SettingsReader(env)

        // Zulip: environment first, zuliprc fills what is still missing (the official order).
        var rc: ZulipRC? = nil
        if let rcPath = zuliprcPath ?? reader.optional(S.zuliprc) {
            do { rc = try ZulipRC.load(path: rcPath) } catch { reader.record(error) }
        }
        let site = reader.optional(S.site) ?? rc?.values["site"]
        let email = reader.optional(S.email) ?? rc?.values["email"]
        let key = reader.optional(S.apiKey) ?? rc?.values["key"]
        let zulipCA = reader.optional(S.zulipCA) ?? rc?.values["cert_bundle"]
        // The official client's switch, environment first: only "true"/"false". The bot always
        // verifies Zulip's certificate, so "true" is refused rather than silently ignored.
        let insecure = reader.sourced(S.allowInsecure) ?? rc?.values["insecure"].map { Environment.Sourced(value: $0, source: "zuliprc insecure") }
        if let insecure {
            do {
                if try S.allowInsecure.info.kind.choice(insecure.value) == "true" {
                    reader.record(ConfigProblem(source: insecure.source,
                        message: "TLS verification towards Zulip cannot be disabled; give Zulip's CA with ZULIP_CERT_BUNDLE (or cert_bundle in the zuliprc), or set it to false"))
                }
            } catch {
                reader.record(ConfigProblem(source: insecure.source, message: error.description))
            }
        }
        if site == nil || site!.isEmpty {
            reader.record(ConfigProblem(source: "ZULIP_SITE", message: "not set; set ZULIP_SITE (or ZULIP_ORG_URL, or site= in a zuliprc)"))
        }
        if email == nil || email!.isEmpty {
            reader.record(ConfigProblem(source: "ZULIP_EMAIL", message: "not set; set ZULIP_EMAIL (or ZULIP_BOT_EMAIL, or email= in a zuliprc)"))
        }
        if key == nil || key!.isEmpty {
            reader.record(ConfigProblem(source: "ZULIP_API_KEY", message: "not set; set ZULIP_API_KEY or ZULIP_API_KEY_FILE (or key= in a zuliprc)"))
        }

        // Gateways.
        let problemsBefore = reader.problems.count
        let urls = reader.optional(S.gatewayURLs) ?? []
        // Unset or only separators; a refused value has its own problem already.
        if urls.isEmpty && reader.problems.count == problemsBefore {
            reader.record(ConfigProblem(source: "GATEWAY_URLS", message: "not set; give comma-separated gateway base URLs, e.g. http://127.0.0.1:8000,http://127.0.0.1:8081"))
        }
        let token = reader.optional(S.gatewayToken)
        if token == nil {
            reader.record(ConfigProblem(source: "GATEWAY_TOKEN", message: "not set; set GATEWAY_TOKEN or GATEWAY_TOKEN_FILE"))
        }
        let gatewayCA = reader.optional(S.gatewayCA)
        let clientCert = reader.optional(S.gatewayClientCert), clientKey = reader.optional(S.gatewayClientKey)
        if let problem = Self.clientCertificateProblem(certificate: clientCert, key: clientKey) { reader.record(problem) }

        // Access list.
        var acl = AccessList()
        if let text = reader.sourced(S.acl) {
            do { acl = try AccessList.parse(text.value, source: text.source) } catch { reader.record(error) }
        }
        if let senders = reader.optional(S.allowedSenders) {
            do { try acl.addAllowedSenders(senders, source: S.allowedSenders.info.name) } catch { reader.record(error) }
        }
        var policies = AccessPolicies()
        if let text = reader.sourced(S.policy) {
            do { policies = try AccessPolicies.parse(text.value, source: text.source) } catch { reader.record(error) }
        }

        let stateDir = reader.value(S.stateDir)
        let lockFile = reader.optional(S.lockFile) ?? stateDir + "/leader.lock"
        if lockFile == LeaderStateStore.path(in: stateDir) {
            reader.record(ConfigProblem(source: "BOT_LOCK_FILE", message: "must not be the watermark file \(lockFile); pick another name"))
        }

        var etcd: BotEtcdSettings?
        let etcdFiles = [S.etcdEndpoints, S.etcdCA, S.etcdCert, S.etcdKey].map { ($0.info.name, reader.optional($0)) }
        let etcdPrefix = reader.value(S.etcdPrefix)
        let etcdLease = reader.value(S.etcdLease)
        if reader.value(S.election) == "etcd" {
            do {
                etcd = try BotEtcdSettings(
                    endpoints: etcdFiles[0].1, prefix: etcdPrefix, leaseSeconds: etcdLease,
                    caFile: etcdFiles[1].1, certificateFile: etcdFiles[2].1, keyFile: etcdFiles[3].1)
            } catch {
                reader.record(error)
            }
        } else {
            // A bot meant for etcd but left on the lock files would lead on its own host
            // beside the etcd leader: both would answer.
            for (name, value) in etcdFiles where value != nil {
                reader.record(ConfigProblem(source: name, message: "is set but BOT_ELECTION is not etcd; set BOT_ELECTION=etcd or unset it"))
            }
        }

        var config = BotConfiguration(
            zulipSite: normalizeSite(site ?? ""), zulipEmail: email ?? "", zulipAPIKey: key ?? "", zulipCAFile: zulipCA,
            gatewayURLs: urls, gatewayToken: token ?? "", gatewayCAFile: gatewayCA,
            gatewayAttemptTimeout: reader.value(S.attemptTimeout), gatewayDeadline: reader.value(S.gatewayDeadline),
            replyDeadline: reader.value(S.replyDeadline), watchdogStall: reader.value(S.watchdogStall),
            acl: acl, lockFile: lockFile, stateDir: stateDir, listen: reader.optional(S.listen),
            catchUpMaxAge: Int(reader.value(S.catchUpMaxAge).wholeSeconds), expiryEdit: reader.value(S.expiryEdit),
            expiryEditDelay: reader.value(S.expiryEditDelay).inSeconds,
            backoffInitial: reader.value(S.backoffInitial), backoffMax: reader.value(S.backoffMax),
            userRateBurst: reader.value(S.userRateBurst), userRatePerMinute: reader.value(S.userRatePerMinute),
            logLevel: reader.value(S.logLevel))
        config.policies = policies
        config.gatewayClientCertificateFile = clientCert
        config.gatewayClientKeyFile = clientKey
        config.etcd = etcd
        if !reader.problems.isEmpty { throw ConfigError(reader.problems) }
        return config
    }
}
