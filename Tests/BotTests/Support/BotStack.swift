import Foundation
import XCTest
import TestSupport
import TextSupport

/// One test's world: a temp directory, the test Zulip (or the account of another Zulip the bots
/// should use, such as a real server), optionally a real gateway, and any number of real
/// `totp-bot` processes sharing the lock file and state directory.
final class BotStack {
    /// Where the bots log in.
    struct ZulipAccount {
        var site: String
        var email: String
        var key: String
    }

    static let seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    static let gatewayToken = "bot-gateway-token-0123456789"
    static let alice = "alice@example.com"
    static let bob = "bob@example.com"
    static let carol = "carol@example.com"

    let dir: String
    let account: ZulipAccount
    private let emulator: ZulipEmulator?
    private(set) var gateway: TestProcess?
    private(set) var gatewayPort = 0
    private(set) var bots: [TestProcess] = []
    var ids: [String: Int] = [:]

    static var productsDirectory: String { TestProcess.productsDirectory }

    /// The test Zulip; only for stacks made without `account:`.
    var zulip: ZulipEmulator {
        guard let emulator else { fatalError("this stack's bots use another Zulip (\(account.site)), not the emulator") }
        return emulator
    }

    /// With `account`, the bots use that Zulip and no emulator is started.
    init(gateway withGateway: Bool = true, zulipArgs: [String] = [], account: ZulipAccount? = nil) throws {
        dir = NSTemporaryDirectory() + "bot-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if let account {
            emulator = nil
            self.account = account
        } else {
            let zulip = try ZulipEmulator(dir: dir, extraArgs: zulipArgs)
            emulator = zulip
            self.account = ZulipAccount(site: zulip.site, email: ZulipEmulator.botEmail, key: ZulipEmulator.botKey)
            for (email, name) in [(Self.alice, "Alice"), (Self.bob, "Bob"), (Self.carol, "Carol")] {
                ids[email] = zulip.addUser(email, name: name)
            }
        }
        if withGateway { try startGateway() }
    }

    deinit {
        for bot in bots where bot.process.isRunning {
            bot.signal(SIGKILL)
            bot.waitForExit(timeout: 5)
        }
        if let gateway, gateway.process.isRunning {
            gateway.signal(SIGKILL)
            gateway.waitForExit(timeout: 5)
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    func startGateway() throws {
        let env = [
            "TOTP_SEED_CERTUS": Self.seed,
            "TOTP_SEED_GITHUB": Self.seed,
            // A 4-second period: the expiry edit happens within the test's time.
            "TOTP_SEED_FAST": "otpauth://totp/T:fast?secret=\(Self.seed)&period=4",
            "GATEWAY_TOKENS": "bot:\(Self.gatewayToken):*",
            "GATEWAY_INSTANCE": "gw-test",
            "GATEWAY_EVENT_LOOPS": "1",
            "GATEWAY_DRAIN_SECONDS": "0",
        ]
        let p = try TestProcess(executable: Self.productsDirectory + "/totp-gateway", arguments: ["--listen", "127.0.0.1:0"], environment: env, directory: dir)
        var port: Int? = nil
        _ = TestProcess.waitUntil(timeout: 10) {
            port = p.logLines.first { $0["event"] as? String == "listening" }?["port"] as? Int
            return port != nil || !p.process.isRunning
        }
        guard let port else { throw NSError(domain: "BotStack", code: 1, userInfo: [NSLocalizedDescriptionKey: "gateway did not start: \(p.stderr)"]) }
        gateway = p
        gatewayPort = port
    }

    var gatewayURL: String { "http://127.0.0.1:\(gatewayPort)" }

    func botEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = [
            "ZULIP_SITE": account.site,
            "ZULIP_EMAIL": account.email,
            "ZULIP_API_KEY": account.key,
            "GATEWAY_URLS": gatewayURL,
            "GATEWAY_TOKEN": Self.gatewayToken,
            "BOT_ACL": "\(Self.alice):*;\(Self.bob):github,fast",
            "BOT_STATE_DIR": dir,
            "BOT_LOCK_FILE": dir + "/leader.lock",
            "BOT_LISTEN": "127.0.0.1:0",
            "BOT_BACKOFF_INITIAL_MS": "100",
            "BOT_BACKOFF_MAX_MS": "1000",
            "BOT_GATEWAY_ATTEMPT_TIMEOUT_MS": "1000",
            "BOT_GATEWAY_DEADLINE_MS": "4000",
            "BOT_USER_RATE_BURST": "50",
        ]
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Starts a bot; waits until it is leader (or standby, when `expectLeader` is false).
    @discardableResult
    func startBot(_ extra: [String: String] = [:], expectLeader: Bool = true, arguments: [String] = []) throws -> TestProcess {
        let bot = try TestProcess(executable: Self.productsDirectory + "/totp-bot", arguments: arguments, environment: botEnvironment(extra), directory: dir)
        bots.append(bot)
        let ok = TestProcess.waitUntil(timeout: 10) {
            let events = bot.logLines.compactMap { $0["event"] as? String }
            return expectLeader ? events.contains("watermark_initialised") || events.contains("catch_up") : events.contains("standby")
        }
        XCTAssertTrue(ok, "bot did not become \(expectLeader ? "leader" : "standby"): \(bot.stderr)")
        return bot
    }

    static func events(_ bot: TestProcess) -> [String] { bot.logLines.compactMap { $0["event"] as? String } }

    /// The bot's log lines for `event`.
    static func lines(_ bot: TestProcess, _ event: String) -> [[String: Any]] {
        bot.logLines.filter { $0["event"] as? String == event }
    }

    /// The bot's audit lines (one per DM handled).
    static func auditLines(_ bot: TestProcess) -> [[String: Any]] {
        bot.logLines.filter { $0["component"] as? String == "audit" }
    }

    /// `last_message_id` in the shared state file (nil when there is none yet).
    var watermark: Int? {
        guard let data = FileManager.default.contents(atPath: dir + "/watermark.json"),
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return json["last_message_id"] as? Int
    }

    /// Writes the state file a previous leader would have left.
    func writeState(_ json: String) throws {
        try json.write(toFile: dir + "/watermark.json", atomically: true, encoding: .utf8)
    }

    /// The bot's /metrics port (from its "listening" line).
    static func metricsPort(_ bot: TestProcess) -> Int? {
        bot.logLines.first { $0["event"] as? String == "listening" && $0["component"] as? String == "bot" }?["port"] as? Int
    }

    /// The 6-digit code of a reply like "`123456` for certus — valid for 17 s more.".
    static func code(in reply: String) -> String? {
        guard let open = reply.firstIndex(of: "`") else { return nil }
        let rest = reply[reply.index(after: open)...]
        guard let close = rest.firstIndex(of: "`") else { return nil }
        let code = String(rest[..<close])
        return code.count == 6 && code.allSatisfy(\.isNumber) ? code : nil
    }

    /// oathtool's 30 s codes for `seed` one step ago, now and one step ahead: none of them may
    /// appear where codes must not (a notification, a log).
    static func codesAroundNow() -> [String] {
        let now = Int(Date().timeIntervalSince1970)
        return [now - 30, now, now + 30].map { t in
            TestProcess.run("/usr/bin/oathtool", ["--totp", "-b", "-s", "30s", "-N", "@\(t)", seed]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// oathtool's codes for `seed` now and one period earlier (the reply may straddle a boundary).
    static func oathtoolCodes(period: Int = 30) -> [String] {
        let now = Int(Date().timeIntervalSince1970)
        return [now, now - period].map { t in
            TestProcess.run("/usr/bin/oathtool", ["--totp", "-b", "-s", "\(period)s", "-N", "@\(t)", seed]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}
