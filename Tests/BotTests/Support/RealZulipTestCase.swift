import Foundation
import XCTest
import TestSupport

/// Base of the tests against a real Zulip server (scripts/zulip-server): real bots and a real
/// gateway, talking to the server through a `RecordingProxy`. Skipped unless
/// REAL_ZULIP_RC_DIR names the running server's zuliprc folder (the `real-zulip` stage of
/// scripts/test sets it), so a plain `swift test` stays fast. Every test ends by checking every
/// call the bots made: each accepted (2xx, or a failure the test expects), none answered with
/// `ignored_parameters_unsupported`, and the whole log against Zulip's OpenAPI spec.
class RealZulipTestCase: XCTestCase {
    var zulip: RealZulip!
    var proxy: RecordingProxy!
    var stack: BotStack!
    private var proxyDir: TemporaryDirectory!
    /// Bot calls a test expects to fail (a 429, a lost queue, a 502 while Zulip restarts).
    var expectedFailure: ([String: Any]) -> Bool = { _ in false }

    override func setUpWithError() throws {
        guard let rc = ProcessInfo.processInfo.environment["REAL_ZULIP_RC_DIR"], !rc.isEmpty else {
            throw XCTSkip("""
                no real Zulip: set REAL_ZULIP_RC_DIR to a running server's zuliprc folder \
                (scripts/test's real-zulip stage does; by hand: scripts/zulip-server install, then \
                REAL_ZULIP_RC_DIR=/var/tmp/totp-zulip-server/zuliprc swift test --filter RealZulipTests)
                """)
        }
        zulip = try RealZulip(rcDir: rc)
        proxyDir = TemporaryDirectory(prefix: "real-zulip")
        proxy = try RecordingProxy(dir: proxyDir.path, upstream: zulip.site)
        stack = try BotStack(account: .init(site: proxy.site, email: zulip.bot.email, key: zulip.bot.key))
    }

    override func tearDown() {
        // A failure in CI shows only this log: what the bots did and said is the evidence.
        if let stack, (testRun?.totalFailureCount ?? 0) > 0 { printEvidence(stack) }
        // The bots go first, so no call of theirs is still being made while the log is read.
        stack = nil
        if proxy != nil { checkBotCalls() }
        proxy = nil
        proxyDir = nil
        zulip = nil
        super.tearDown()
    }

    /// The bots' calls in the proxy's log (their User-Agent), oldest first.
    func botCalls() -> [[String: Any]] {
        proxy.requests().filter { ($0["user_agent"] as? String ?? "").hasPrefix("totp-bot/") }
    }

    /// Each bot's log (the bot logs no code, key or token; testCodesLabelsHelpAndNoCodeOutside-
    /// OneToOneDMs checks its log for both) and the calls the
    /// proxy recorded, with their times, for a test that failed. Each line starts with
    /// "evidence| ", which scripts/test-real-zulip passes on to the stage's output.
    private func printEvidence(_ stack: BotStack) {
        var lines: [String] = []
        for (i, bot) in stack.bots.enumerated() {
            lines.append("--- \(name): bot \(i + 1)'s log, last 25 lines")
            lines += bot.stderr.split(separator: "\n").suffix(25).map(String.init)
        }
        lines.append("--- \(name): the bots' calls as the proxy recorded them (unix time, answer, duration)")
        for call in botCalls() {
            lines.append("\(call["time"] ?? "") \(call["method"] ?? "") \(call["path"] ?? "") -> \(call["status"] ?? "no answer") in \(call["duration_ms"] ?? "?") ms")
        }
        print(lines.map { "evidence| " + $0 }.joined(separator: "\n"))
    }

    private func checkBotCalls() {
        let calls = botCalls()
        XCTAssertFalse(calls.isEmpty, "the proxy recorded no call of the bots")
        var statuses: [String: Int] = [:]
        for call in calls {
            let status = call["status"] as? Int
            statuses[status.map(String.init) ?? "none", default: 0] += 1
            let what = "\(call["method"] ?? "") \(call["path"] ?? "") -> \(status.map(String.init) ?? "no answer")"
            let response = call["response"] as? [String: Any]
            XCTAssertNil(response?["ignored_parameters_unsupported"], "Zulip ignored parameters of \(what): \(call["form"] ?? "") \(call["query"] ?? "")")
            if !(200..<300).contains(status ?? 0) && !expectedFailure(call) {
                XCTFail("the real Zulip refused \(what): \(response ?? [:]) \(call["response_text"] ?? "")")
            }
        }
        let (violations, output) = ZulipEmulator.specCheck(log: proxy.requestLog)
        let summary = output.split(separator: "\n").last { $0.hasPrefix("spec-check:") } ?? "no spec-check summary"
        print("\(name): \(calls.count) bot calls to the real Zulip, statuses \(statuses.sorted { $0.key < $1.key }); \(summary)")
        XCTAssertEqual(violations, 0, "spec_check on the real Zulip's traffic:\n\(output)")
    }
}
