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
    func startEtcdBot(_ cluster: EtcdCluster, host name: String, leader: Bool = true, lease: Int = lease) throws -> TestProcess {
        let dir = stack.dir + "/host-" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let bot = try stack.startBot([
            "BOT_ELECTION": "etcd", "BOT_ETCD_ENDPOINTS": cluster.endpoints.joined(separator: ","),
            "BOT_ETCD_LEASE_SECONDS": String(lease), "BOT_STATE_DIR": dir, "BOT_LOCK_FILE": dir + "/leader.lock",
        ], expectLeader: leader)
        if !leader {
            XCTAssertNotNil(waitForLine(bot, "etcd_role_changed") { $0["role"] as? String == "standby" }, "not a standby: \(bot.stderr)")
        }
        return bot
    }

    /// The test's etcd members, kept until `tearDown` (after the bots are stopped).
    var cluster: EtcdCluster!

    /// etcd of `members` (`cluster`), the test Zulip and gateway, bot "a" leading and bot "b" standing by.
    func twoHosts(members: Int = 1, lease: Int = lease, electionTimeoutMilliseconds: Int? = nil) throws -> (a: TestProcess, b: TestProcess) {
        cluster = try EtcdCluster(members: members, electionTimeoutMilliseconds: electionTimeoutMilliseconds)
        stack = try BotStack()
        let a = try startEtcdBot(cluster, host: "a", lease: lease)
        return (a, try startEtcdBot(cluster, host: "b", leader: false, lease: lease))
    }

    override func tearDown() {
        super.tearDown()
        cluster = nil
    }

    func health(_ bot: TestProcess) throws -> [String: Any] {
        let port = try XCTUnwrap(BotStack.metricsPort(bot))
        let body = try XCTUnwrap(fetch("http://127.0.0.1:\(port)/healthz"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], body)
    }

    /// kill -9 the leader: the standby on the other "host" answers a DM sent right after within
    /// the lease + 1 s, once; it continues from the state the dead leader left in etcd.
    func testKillNineTheLeaderAndTheStandbyOnAnotherHostAnswersWithinTheLease() throws {
        let (a, b) = try twoHosts()
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
        // The reply is recorded, then the watermark moves past the DM; its claim (written with
        // the leader's token) lasts until the watermark passes it, then it is pruned.
        var watermark = 0
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) {
            guard let state = try? client.get(keys.state)?.value,
                  let json = try? JSONSerialization.jsonObject(with: Data(state)) as? [String: Any] else { return false }
            watermark = json["last_message_id"] as? Int ?? 0
            return watermark >= first
        }, "the leader's state in etcd never settled DM \(first)")
        let claims = try client.range(.prefix(keys.claimsPrefix)).kvs
        XCTAssertTrue(claims.allSatisfy { $0.keyText >= keys.claim(Int64(watermark)) && $0.value == Array(String(tokenA).utf8) },
                      "claims below the watermark \(watermark) are pruned, the others carry the leader's token: \(claims.map(\.keyText))")
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
        let (a, b) = try twoHosts()
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

    /// TLS to etcd: a member that requires client certificates (`--client-cert-auth`, on a
    /// `unixs://` socket). A bot with `BOT_ETCD_CA_FILE` alone is refused by it, says so in its log
    /// and `/healthz`, and never leads; one with its client certificate and key as well is
    /// elected and answers a DM, once.
    func testTheBotElectsOverMutualTLSToEtcdAndIsRefusedWithoutItsCertificate() throws {
        let tmp = TemporaryDirectory(prefix: "etcd-tls")
        let certificates = try EtcdTestCertificates(directory: tmp.path)
        cluster = try EtcdCluster(members: 1, transport: .unixTLS(certificates))
        stack = try BotStack()
        func environment(_ name: String, clientCertificate: Bool) throws -> [String: String] {
            let dir = stack.dir + "/host-" + name
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var env = ["BOT_ELECTION": "etcd", "BOT_ETCD_ENDPOINTS": cluster.endpoints.joined(separator: ","),
                       "BOT_ETCD_CA_FILE": certificates.caFile, "BOT_ETCD_LEASE_SECONDS": String(Self.lease),
                       "BOT_STATE_DIR": dir, "BOT_LOCK_FILE": dir + "/leader.lock"]
            if clientCertificate {
                env["BOT_ETCD_CERT_FILE"] = certificates.clientCertificateFile
                env["BOT_ETCD_KEY_FILE"] = certificates.clientKeyFile
            }
            return env
        }
        XCTAssertTrue(cluster.endpoints.allSatisfy { $0.hasPrefix("unixs://") }, "\(cluster.endpoints)")

        let refused = try stack.startBot(try environment("no-cert", clientCertificate: false), expectLeader: false)
        XCTAssertNotNil(waitForLine(refused, "etcd_request_failed", timeout: 10), refused.stderr)
        XCTAssertEqual(try health(refused)["etcd"] as? String, "unreachable")
        XCTAssertEqual(try health(refused)["role"] as? String, "standby")

        let bot = try stack.startBot(try environment("cert", clientCertificate: true))
        XCTAssertEqual(try health(bot)["role"] as? String, "leader")
        XCTAssertEqual(try health(bot)["election"] as? String, "etcd")
        let z = stack.zulip
        let dm = z.dm(from: BotStack.alice, "code certus")
        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: dm).count, 1)
        XCTAssertFalse(BotStack.events(refused).contains("leader"), "the bot without its certificate led: \(refused.stderr)")
        XCTAssertFalse(refused.stderr.contains("BEGIN"), "no key material in the log")
    }

    /// Drill: kill -9 etcd's raft leader (of three members) while DMs keep coming: each DM is
    /// answered once, the bots' leadership does not change, and no DM waits more than 2 s. The DM
    /// sent right after the kill waits for etcd to elect a new raft leader: a follower calls an
    /// election once it has heard no heartbeat for a randomised 1-2x `--election-timeout`. With
    /// etcd's default (1000 ms) that alone took 1.0-2.6 s here, so the members run with 500 ms
    /// and the default 100 ms heartbeat (the pair etcd's tuning guide gives as its example), as
    /// the README advises for members on one LAN.
    func testKillingEtcdsRaftLeaderDelaysNoDMByMoreThanTwoSeconds() throws {
        // The default lease: a keepalive may meet the leaderless members and still get through in time.
        let (a, b) = try twoHosts(members: 3, lease: 5, electionTimeoutMilliseconds: 500)
        let z = stack.zulip
        let raftLeader = try XCTUnwrap((0..<3).first { index in
            (try? EtcdClient(configuration: EtcdClientConfiguration(endpoints: [cluster.endpoint(index)])).status().isRaftLeader) == true
        })
        var delays: [Double] = []
        var dms: [Int] = []
        for index in 0..<8 {
            if index == 3 { cluster.kill(raftLeader) }
            let sentAt = Date()
            let dm = z.dm(from: BotStack.alice, "code certus")
            dms.append(dm)
            XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: dm, timeout: 10).count, 1, "DM \(index) unanswered")
            delays.append(Date().timeIntervalSince(sentAt))
        }
        print("etcd raft leader killed: DM reply delays (s): \(delays.map { String(format: "%.2f", $0) }.joined(separator: " "))")
        XCTAssertLessThan(delays.max() ?? 99, 2.0, "a DM waited more than 2 s: \(delays)")
        XCTAssertLessThan(delays.enumerated().filter { $0.offset != 3 }.map(\.element).max() ?? 99, 1.0,
                          "only the DM sent into the raft election may wait: \(delays)")
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(z.botReplies(to: BotStack.alice, after: dms[0] - 1).count, dms.count, "one reply per DM")
        XCTAssertTrue(a.process.isRunning && b.process.isRunning, String(a.stderr.suffix(1500)) + String(b.stderr.suffix(1500)))
        XCTAssertEqual(try health(a)["role"] as? String, "leader")
    }

    /// Drill: every etcd member down for 10 s while DMs arrive, then back: the leader stops
    /// acting within its lease (and exits 1 for its supervisor); once etcd returns the standby
    /// leads and answers each DM exactly once.
    func testAllEtcdMembersDownForTenSecondsLosesAndDoublesNoDM() throws {
        let (a, b) = try twoHosts(members: 3)
        let z = stack.zulip
        let before = z.dm(from: BotStack.bob, "code github")
        XCTAssertEqual(z.waitForReplies(to: BotStack.bob, after: before).count, 1)

        let downAt = Date()
        for member in 0..<3 { cluster.kill(member) }
        var dms: [Int] = []
        for index in 0..<3 {
            dms.append(z.dm(from: BotStack.alice, "code \(index == 1 ? "github" : "certus")"))
            Thread.sleep(until: downAt.addingTimeInterval(Double(index + 1) * 10 / 3))
        }
        XCTAssertEqual(a.waitForExit(timeout: 5), 1, "the leader must stop without etcd: \(a.stderr.suffix(1500))")
        XCTAssertEqual(BotStack.lines(a, "leader_lock_lost").count, 1)
        try cluster.restartAll()
        let backAt = Date()

        XCTAssertEqual(z.waitForReplies(to: BotStack.alice, after: dms[0] - 1, count: 3, timeout: 30).count, 3,
                       "the standby did not answer the DMs of the outage: \(b.stderr.suffix(3000))")
        print("etcd all members down 10 s: last DM answered \(Int(Date().timeIntervalSince(backAt) * 1000)) ms after etcd was back")
        Thread.sleep(forTimeInterval: 1.5)
        let replies = z.botReplies(to: BotStack.alice, after: dms[0] - 1)
        XCTAssertEqual(replies.count, 3, "each DM answered exactly once: \(replies.map(\.content))")
        XCTAssertEqual(try health(b)["role"] as? String, "leader")
    }
}
