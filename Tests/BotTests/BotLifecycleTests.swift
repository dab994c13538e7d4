import Foundation
import Platform
import TestSupport
import XCTest

/// `totp-bot --check-config` refuses exactly what `totp-bot` refuses at start (exit 2), and the
/// bot's process lifecycle: signals handled before READY=1, a stop right after it graceful.
final class BotLifecycleTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    override func setUp() { tmp = TemporaryDirectory(prefix: "botlife") }
    override func tearDown() { tmp = nil }

    static var bot: String { TestProcess.productsDirectory + "/totp-bot" }

    /// Settings that pass everywhere; Zulip and the gateway are closed ports (nothing here
    /// needs them: a start either fails before them or is stopped).
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ["ZULIP_SITE": "http://127.0.0.1:1", "ZULIP_EMAIL": "bot@example.com", "ZULIP_API_KEY": "key-0000",
                   "GATEWAY_URLS": "http://127.0.0.1:2", "GATEWAY_TOKEN": "token-0000", "BOT_STATE_DIR": tmp.path, "BOT_ACL": "42:*"]
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Each refusal of a start is a refusal of `--check-config`, both exit 2, and the check
    /// names the cause. (BOT_LISTEN=localhost:9101, a state directory that does not exist, an
    /// unreadable watermark and a port in use all used to pass --check-config.)
    func testCheckConfigRefusesWhatTheStartRefuses() throws {
        // A port in use: listening on 127.0.0.1, at the port the kernel picked.
        let holder = try SocketListener(address: SocketAddress(ipLiteral: "127.0.0.1", port: 0), backlog: 1)
        defer { holder.close() }
        try FileManager.default.createDirectory(atPath: tmp.path + "/broken", withIntermediateDirectories: true)
        tmp.write("broken/watermark.json", "not json")
        let cases: [(String, [String: String], String)] = [
            ("listen on a name", ["BOT_LISTEN": "localhost:9101"], "BOT_LISTEN: 'localhost' is not an IPv4 or IPv6 address"),
            ("listen on a port in use", ["BOT_LISTEN": "127.0.0.1:\(holder.port)"], "BOT_LISTEN: cannot listen on 127.0.0.1:\(holder.port)"),
            ("state directory missing", ["BOT_STATE_DIR": tmp.path + "/missing/state"], "BOT_LOCK_FILE"),
            ("lock file in a missing directory", ["BOT_LOCK_FILE": tmp.path + "/nowhere/leader.lock"], "BOT_LOCK_FILE"),
            ("watermark not readable", ["BOT_STATE_DIR": tmp.path + "/broken"], "is not a watermark record"),
            ("a number out of range", ["BOT_USER_RATE_BURST": "0"], "BOT_USER_RATE_BURST: must be a number from 1 to 1000"),
        ]
        for (name, extra, expected) in cases {
            let check = TestProcess.run(Self.bot, ["--check-config"], environment: environment(extra), timeout: 10)
            XCTAssertEqual(check.status, 2, "\(name): --check-config\n\(check.stdout)\(check.stderr)")
            XCTAssertTrue(check.stderr.contains(expected), "\(name): \(check.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.path + "/leader.lock"), "--check-config creates no lock file")
        for (name, extra, _) in cases {
            let start = TestProcess.run(Self.bot, [], environment: environment(extra), timeout: 10)
            XCTAssertEqual(start.status, 2, "\(name): start\n\(start.stderr)")
        }
    }

    /// A configuration --check-config accepts starts: READY=1 with every thread but the signal
    /// thread blocking SIGTERM and SIGINT, and a SIGTERM the moment READY=1 arrives stops it
    /// gracefully (exit 0, `stopped` logged with its role).
    func testWhatCheckConfigAcceptsStartsAndStopsGracefully() throws {
        let env = environment(["BOT_LISTEN": "127.0.0.1:0"])
        let check = TestProcess.run(Self.bot, ["--check-config"], environment: env, timeout: 10)
        XCTAssertEqual(check.status, 0, check.stderr)
        let notify = try NotifySocket(path: tmp.path + "/notify.sock")
        let bot = try TestProcess(executable: Self.bot, environment: env.merging(["NOTIFY_SOCKET": notify.path]) { $1 }, directory: tmp.path)
        XCTAssertEqual(notify.collect(until: { $0 == "READY=1" }, timeout: 10).last, "READY=1", bot.stderr)
        let pid = bot.process.processIdentifier
        XCTAssertEqual(ProcessSignals.threadsNotBlocking(pid: pid, [SIGTERM, SIGINT], except: ["signals"]), [])
        bot.signal(SIGTERM)
        XCTAssertEqual(bot.waitForExit(timeout: 20), 0, bot.stderr)
        let stopped = bot.logLines.first { $0["event"] as? String == "stopped" }
        XCTAssertEqual(stopped?["signal"] as? String, "SIGTERM", bot.stderr)
        XCTAssertNotNil(stopped?["role"] as? String, bot.stderr)
    }
}
