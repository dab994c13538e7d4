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
    var gatewayAttemptTimeout: Duration = .milliseconds(1500)
    var gatewayDeadline: Duration = .milliseconds(4000)
    /// How long a reply is retried (5xx, network errors, 429) before the message is left for
    /// the next catch-up.
    var replyDeadline: Duration = .milliseconds(10000)
    /// A DM waiting or being answered for longer than this means the reply path is stuck: the
    /// leader stops feeding systemd's watchdog.
    var watchdogStall: Duration = .seconds(60)
    var acl: AccessList
    /// `BOT_POLICY` / `BOT_POLICY_FILE`: approvals, grants and notifications per label.
    var policies = AccessPolicies()
    var lockFile: String
    var stateDir: String
    var listen: (host: String, port: Int)?
    var catchUpMaxAge: Int = 120
    var expiryEdit = true
    /// Seconds after the code's window ends before the reply is edited (0 = at once).
    var expiryEditDelay: Double = 0
    var backoffInitial: Duration = .seconds(1)
    var backoffMax: Duration = .seconds(60)
    var userRateBurst = 5
    var userRatePerMinute = 10.0
    var logLevel: LogLevel = .info

    /// The Zulip API base, e.g. `https://chat.example.com/api/v1`.
    var zulipAPIBase: String { zulipSite + "/v1" }

    var description: String {
        "BotConfiguration(site: \(zulipSite), email: \(zulipEmail), key: <hidden>, gateways: \(gatewayURLs), token: <hidden>, "
            + "acl entries: \(acl.count), policies: \(policies.count), lock: \(lockFile), state: \(stateDir))"
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
        var problems: [ConfigProblem] = []
        func value(_ names: [String]) -> Environment.Sourced? {
            for name in names {
                do { if let v = try env.value(name) { return v } } catch { problems.append(error) }
            }
            return nil
        }

        // Zulip: environment first, zuliprc fills what is still missing (the official order).
        var rc: ZulipRC? = nil
        let rcPath = zuliprcPath ?? env["ZULIP_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        if let rcPath {
            do { rc = try ZulipRC.load(path: rcPath) } catch { problems.append(error) }
        }
        let site = value(["ZULIP_SITE", "ZULIP_ORG_URL"])?.value ?? rc?.values["site"]
        let email = value(["ZULIP_EMAIL", "ZULIP_BOT_EMAIL"])?.value ?? rc?.values["email"]
        let key = value(["ZULIP_API_KEY", "ZULIP_BOT_TOKEN"])?.value ?? rc?.values["key"]
        let zulipCA = env["ZULIP_CERT_BUNDLE"].flatMap { $0.isEmpty ? nil : $0 } ?? rc?.values["cert_bundle"]
        // The official client's switch, environment first: only "true"/"false". The bot always
        // verifies Zulip's certificate, so "true" is refused rather than silently ignored.
        let insecure: (value: String, source: String)? =
            env["ZULIP_ALLOW_INSECURE"].flatMap { $0.isEmpty ? nil : ($0, "ZULIP_ALLOW_INSECURE") }
            ?? rc?.values["insecure"].map { ($0, "zuliprc insecure") }
        if let insecure {
            switch insecure.value.lowercased() {
            case "false": break
            case "true":
                problems.append(ConfigProblem(source: insecure.source,
                    message: "TLS verification towards Zulip cannot be disabled; give Zulip's CA with ZULIP_CERT_BUNDLE (or cert_bundle in the zuliprc), or set it to false"))
            default:
                problems.append(ConfigProblem(source: insecure.source, message: "must be true or false"))
            }
        }
        if site == nil || site!.isEmpty {
            problems.append(ConfigProblem(source: "ZULIP_SITE", message: "not set; set ZULIP_SITE (or ZULIP_ORG_URL, or site= in a zuliprc)"))
        }
        if email == nil || email!.isEmpty {
            problems.append(ConfigProblem(source: "ZULIP_EMAIL", message: "not set; set ZULIP_EMAIL (or ZULIP_BOT_EMAIL, or email= in a zuliprc)"))
        }
        if key == nil || key!.isEmpty {
            problems.append(ConfigProblem(source: "ZULIP_API_KEY", message: "not set; set ZULIP_API_KEY or ZULIP_API_KEY_FILE (or key= in a zuliprc)"))
        }

        // Gateways.
        var urls: [String] = []
        if let raw = value(["GATEWAY_URLS"])?.value {
            urls = raw.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == " " }).map(String.init)
            for url in urls where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                problems.append(ConfigProblem(source: "GATEWAY_URLS", message: "'\(AccessList.printable(url))' must start with http:// or https://"))
            }
        }
        if urls.isEmpty {
            problems.append(ConfigProblem(source: "GATEWAY_URLS", message: "not set; give comma-separated gateway base URLs, e.g. http://127.0.0.1:8000,http://127.0.0.1:8081"))
        }
        let token = value(["GATEWAY_TOKEN"])?.value
        if token == nil || token!.isEmpty {
            problems.append(ConfigProblem(source: "GATEWAY_TOKEN", message: "not set; set GATEWAY_TOKEN or GATEWAY_TOKEN_FILE"))
        }
        let gatewayCA = env["GATEWAY_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }

        // ACL.
        var acl = AccessList()
        do {
            if let text = try env.value("BOT_ACL") { acl = try AccessList.parse(text.value, source: text.source) }
        } catch let error as ConfigProblem { problems.append(error) } catch let error as ConfigError { problems += error.problems } catch {}
        if let senders = env["ALLOWED_SENDERS"], !senders.isEmpty {
            do { try acl.addAllowedSenders(senders, source: "ALLOWED_SENDERS") } catch { problems += error.problems }
        }
        var policies = AccessPolicies()
        do {
            if let text = try env.value("BOT_POLICY", secret: false) { policies = try AccessPolicies.parse(text.value, source: text.source) }
        } catch let error as ConfigProblem { problems.append(error) } catch let error as ConfigError { problems += error.problems } catch {}

        let stateDir = env["BOT_STATE_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/lib/totp-bot"
        let lockFile = env["BOT_LOCK_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? stateDir + "/leader.lock"
        if lockFile == LeaderStateStore.path(in: stateDir) {
            problems.append(ConfigProblem(source: "BOT_LOCK_FILE", message: "must not be the watermark file \(lockFile); pick another name"))
        }

        var listen: (String, Int)? = nil
        if let raw = env["BOT_LISTEN"], !raw.isEmpty {
            if let colon = raw.lastIndex(of: ":"), let port = Int(raw[raw.index(after: colon)...]), (0...65535).contains(port) {
                var host = String(raw[..<colon])
                if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
                listen = (host.isEmpty ? "0.0.0.0" : host, port)
            } else {
                problems.append(ConfigProblem(source: "BOT_LISTEN", message: "'\(AccessList.printable(raw))' is not HOST:PORT, e.g. 127.0.0.1:9101"))
            }
        }

        func number(_ name: String, _ range: ClosedRange<Double>) -> Double? {
            guard let raw = env[name], !raw.isEmpty else { return nil }
            guard let v = Double(raw), range.contains(v) else {
                problems.append(ConfigProblem(source: name, message: "'\(AccessList.printable(raw))' must be a number from \(range.lowerBound) to \(range.upperBound)"))
                return nil
            }
            return v
        }
        func flag(_ name: String) -> Bool? {
            guard let raw = env[name]?.lowercased(), !raw.isEmpty else { return nil }
            switch raw {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default:
                problems.append(ConfigProblem(source: name, message: "'\(AccessList.printable(raw))' must be 1/0, true/false, yes/no or on/off"))
                return nil
            }
        }
        func ms(_ v: Double) -> Duration { .milliseconds(Int64(v)) }

        var config = BotConfiguration(
            zulipSite: normalizeSite(site ?? ""), zulipEmail: email ?? "", zulipAPIKey: key ?? "", zulipCAFile: zulipCA,
            gatewayURLs: urls, gatewayToken: token ?? "", gatewayCAFile: gatewayCA, acl: acl, lockFile: lockFile,
            stateDir: stateDir, listen: listen)
        config.policies = policies
        if let v = number("BOT_CATCHUP_MAX_AGE", 0...86400) { config.catchUpMaxAge = Int(v) }
        if let v = flag("BOT_EXPIRY_EDIT") { config.expiryEdit = v }
        if let v = number("BOT_EXPIRY_EDIT_DELAY", 0...3600) { config.expiryEditDelay = v }
        if let v = number("BOT_GATEWAY_ATTEMPT_TIMEOUT_MS", 50...60000) { config.gatewayAttemptTimeout = ms(v) }
        if let v = number("BOT_GATEWAY_DEADLINE_MS", 100...60000) { config.gatewayDeadline = ms(v) }
        if let v = number("BOT_REPLY_DEADLINE_MS", 100...120000) { config.replyDeadline = ms(v) }
        if let v = number("BOT_WATCHDOG_STALL_SECONDS", 1...3600) { config.watchdogStall = ms(v * 1000) }
        if let v = number("BOT_BACKOFF_INITIAL_MS", 10...600000) { config.backoffInitial = ms(v) }
        if let v = number("BOT_BACKOFF_MAX_MS", 10...3600000) { config.backoffMax = ms(v) }
        if let v = number("BOT_USER_RATE_BURST", 1...1000) { config.userRateBurst = Int(v) }
        if let v = number("BOT_USER_RATE_PER_MINUTE", 0.01...6000) { config.userRatePerMinute = v }
        if let raw = env["BOT_LOG_LEVEL"], !raw.isEmpty {
            switch raw.lowercased() {
            case "debug": config.logLevel = .debug
            case "info": config.logLevel = .info
            case "warning", "warn": config.logLevel = .warning
            case "error": config.logLevel = .error
            default: problems.append(ConfigProblem(source: "BOT_LOG_LEVEL", message: "must be debug, info, warning or error"))
            }
        }
        if !problems.isEmpty { throw ConfigError(problems) }
        return config
    }
}
