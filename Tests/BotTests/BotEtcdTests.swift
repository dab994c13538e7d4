import Foundation
import XCTest
import TestSupport
import Etcd

/// The bot elected through etcd (`BOT_ELECTION=etcd`) with real etcd members and real bot
/// processes against the test Zulip: two bots with separate state directories and lock files,
/// as if on two hosts, so only etcd can keep them from both answering.
final class BotEtcdTests: BotProcessTestCase {
    static let lease = 3

    /// Starts a bot of "host" `name` against `cluster`; as leader, or waits until etcd made it a standby.
    @discardableResult
    func startEtcdBot(_ cluster: EtcdCluster, host name: String, leader: Bool = true) throws -> TestProcess {
        let dir = stack.dir + "/host-" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let bot = try stack.startBot([
            "BOT_ELECTION": "etcd", "BOT_ETCD_ENDPOINTS": cluster.endpoints.joined(separator: ","),
            "BOT_ETCD_LEASE_SECONDS": String(Self.lease), "BOT_STATE_DIR": dir, "BOT_LOCK_FILE": dir + "/leader.lock",
        ], expectLeader: leader)
        if !leader {
            XCTAssertNotNil(waitForLine(bot, "etcd_role_changed") { $0["role"] as? String == "standby" }, "not a standby: \(bot.stderr)")
        }
        return bot
    }

    func health(_ bot: TestProcess) throws -> [String: Any] {
        let port = try XCTUnwrap(BotStack.metricsPort(bot))
        let body = try XCTUnwrap(fetch("http://127.0.0.1:\(port)/healthz"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], body)
    }

    /// kill -9 the leader: the standby on the other "host" answers a DM sent right after within
    /// the lease + 1 s, once; it continues from the state the dead leader left in etcd.
    func testKillNineTheLeaderAndTheStandbyOnAnotherHostAnswersWithinTheLease() throws {
        let cluster = try EtcdCluster(members: 1)
        stack = try BotStack()
        let a = try startEtcdBot(cluster, host: "a")
        let b = try startEtcdBot(cluster, host: "b", leader: false)
        let z = stack.zulip

        let first = z.dm(from: BotStack.alice, "code certus")
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: first).count, 1)
        let healthA = try health(a)
        XCTAssertEqual(healthA["role"] as? String, "leader")
        XCTAssertEqual(healthA["election"] as? String, "etcd")
        let tokenA = try XCTUnwrap(healthA["fencing_token"] as? Int, "\(healthA)")
        XCTAssertEqual(try health(b)["role"] as? String, "standby")
        XCTAssertNil(try health(b)["fencing_token"])

        // The state and the claim are in etcd, not in either state directory.
        let client = try EtcdClient(configuration: EtcdClientConfiguration(endpoints: cluster.endpoints))
        let keys = try EtcdKeyspace()
        XCTAssertNotNil(try client.get(keys.state), "the leader's state is in etcd")
        XCTAssertEqual(try client.get(keys.claim(Int64(first)))?.value, Array(String(tokenA).utf8), "the DM was claimed with the leader's token")
        XCTAssertFalse(FileManager.default.fileExists(atPath: stack.dir + "/host-a/watermark.json"))

        let killedAt = Date()
        a.signal(SIGKILL)
        let gap = z.dm(from: BotStack.alice, "code github")
        let replies = z.waitForReplies(to: BotStack.alice, after: gap, timeout: Double(Self.lease) + 5)
        let takeover = Date().timeIntervalSince(killedAt)
        print("etcd bot takeover after kill -9: \(Int(takeover * 1000)) ms (lease \(Self.lease) s)")
        XCTAssertEqual(replies.count, 1)
        XCTAssertNotNil(BotStack.code(in: replies.first?.content ?? ""))
        XCTAssertLessThan(takeover, Double(Self.lease) + 1, "the standby must answer within the lease + 1 s of the kill")

        let healthB = try health(b)
        XCTAssertEqual(healthB["role"] as? String, "leader")
        XCTAssertGreaterThan(try XCTUnwrap(healthB["fencing_token"] as? Int), tokenA)
        let port = try XCTUnwrap(BotStack.metricsPort(b))
        let metrics = try XCTUnwrap(fetch("http://127.0.0.1:\(port)/metrics"))
        XCTAssertTrue(metrics.contains("bot_leader 1"), metrics)
        XCTAssertTrue(metrics.contains("bot_etcd_up 1"), metrics)
        XCTAssertTrue(metrics.contains("bot_etcd_lease_remaining_seconds "), metrics)

        // Nothing answered twice: the first DM stays answered by the dead leader.
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: first).count, 2, "one reply per DM")
    }

    /// SIGSTOP the leader for twice the lease while three DMs arrive, then SIGCONT: each DM is
    /// answered exactly once, by the successor; the resumed process sends nothing and exits 1
    /// (its supervisor restarts it as a standby).
    func testALeaderPausedPastItsLeaseSendsNothingWhenResumed() throws {
        let cluster = try EtcdCluster(members: 1)
        stack = try BotStack()
        let a = try startEtcdBot(cluster, host: "a")
        let b = try startEtcdBot(cluster, host: "b", leader: false)
        let z = stack.zulip
        let warmUp = z.dm(from: BotStack.bob, "code github")
        XCTAssertEqual(z.waitForReplies(to: BotStack.bob, after: warmUp).count, 1)

        a.signal(SIGSTOP)
        let pausedAt = Date()
        var dms: [Int] = []
        for (index, label) in ["certus", "github", "certus"].enumerated() {
            dms.append(z.dm(from: BotStack.alice, "code \(label)"))
            // Spread over the pause: before, around and after the lease runs out.
            let next = pausedAt.addingTimeInterval(Double(Self.lease * 2) * Double(index + 1) / 3)
            Thread.sleep(until: next)
        }
        a.signal(SIGCONT)
        let exit = a.waitForExit(timeout: 10)
        XCTAssertEqual(exit, 1, "the resumed leader must stop: \(a.stderr.suffix(2000))")
        let lost = BotStack.lines(a, "leader_lock_lost")
        XCTAssertEqual(lost.count, 1, a.stderr)

        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: dms[0], count: 3, timeout: 10).count, 3)
        Thread.sleep(forTimeInterval: 1.5)
        let replies = z.botReplies(to: BotStack.alice, after: dms[0])
        XCTAssertEqual(replies.count, 3, "each DM answered exactly once: \(replies.map(\.content))")
        let answeredByA = BotStack.auditLines(a).filter { dms.contains($0["message_id"] as? Int ?? -1) && $0["outcome"] as? String == "code" }
        XCTAssertEqual(answeredByA.count, 0, "the resumed process answered: \(answeredByA)")
        for dm in dms {
            XCTAssertNotNil(waitForLine(b, "dm_received", timeout: 1) { $0["message_id"] as? Int == dm }, "DM \(dm) not handled by the successor")
        }
        XCTAssertEqual(try health(b)["role"] as? String, "leader")
    }
}
