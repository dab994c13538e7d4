import Foundation
import XCTest
import Synchronization
import TestSupport
import Etcd
import Platform
import HTTPServer
@testable import CurlHTTP
@testable import Bot

/// The leader's state and the claims of its replies in a real etcd, under the fence: what one
/// leader writes the next reads; a deposed leader's writes and claims are refused; a message
/// claimed by one leader is not answered by another; claims below the watermark are pruned.
final class BotEtcdStateTests: XCTestCase {
    func testStateAndClaimsAreFencedAndCarriedToTheNextLeader() throws {
        let cluster = try EtcdCluster(members: 1)
        let client = try EtcdClient(configuration: EtcdClientConfiguration(endpoints: cluster.endpoints))
        let keys = try EtcdKeyspace(prefix: "/bot-state-test/")
        let writes = FencedWrites(client: client, keyspace: keys)

        // Leader A holds the leader key on its lease.
        let leaseA = try client.grantLease(ttlSeconds: 30)
        let fenceA = EtcdFence(leaderKey: keys.leader, token: try client.put(keys.leader, value: Array("a".utf8), lease: leaseA.id))
        let supersededA = Mutex<[String]>([])
        let storeA = LeaderStateStore(storage: EtcdLeaderStateStorage(writes: writes, fence: { fenceA }),
                                      onSuperseded: { reason in supersededA.withLock { $0.append(reason) } })
        XCTAssertNil(try storeA.load().lastMessageID, "no state in etcd yet")
        try storeA.update { _ = $0.advance(to: 100) }
        try storeA.claim(epoch: Int(fenceA.token))
        for id in [90, 101, 102] {
            XCTAssertEqual(MessageClaim.etcd(writes, fence: fenceA, message: id), .proceed)
        }
        XCTAssertEqual(MessageClaim.etcd(writes, fence: fenceA, message: 101), .proceed, "its own earlier claim")
        try storeA.update { $0.recordReply(to: 101, replyID: 5001) }
        XCTAssertEqual(try client.range(.prefix(keys.claimsPrefix)).kvs.map(\.keyText), [keys.claim(101), keys.claim(102)],
                       "the claim below the watermark (90) was pruned with the state write")

        // A's lease ends (a pause past it): B is elected and reads where A stopped.
        try client.revokeLease(leaseA.id)
        let leaseB = try client.grantLease(ttlSeconds: 30)
        let fenceB = EtcdFence(leaderKey: keys.leader, token: try client.put(keys.leader, value: Array("b".utf8), lease: leaseB.id))
        XCTAssertGreaterThan(fenceB.token, fenceA.token)
        let storeB = LeaderStateStore(storage: EtcdLeaderStateStorage(writes: writes, fence: { fenceB }))
        let read = try storeB.load()
        XCTAssertEqual(read.lastMessageID, 100)
        XCTAssertEqual(read.replies[101], 5001)
        XCTAssertEqual(read.epoch, Int(fenceA.token))
        try storeB.claim(epoch: Int(fenceB.token))

        // A message A claimed is not B's to answer; one nobody claimed is.
        XCTAssertEqual(MessageClaim.etcd(writes, fence: fenceB, message: 102), .claimedElsewhere(byToken: fenceA.token))
        XCTAssertEqual(MessageClaim.etcd(writes, fence: fenceB, message: 103), .proceed)

        // The resumed A can neither claim nor write: refused, and told it is superseded.
        guard case .refused = MessageClaim.etcd(writes, fence: fenceA, message: 104) else { return XCTFail("A claimed 104") }
        XCTAssertThrowsError(try storeA.update { _ = $0.advance(to: 104) }) { error in
            XCTAssertEqual((error as? LeaderStateStore.WriteFailure)?.kind, .superseded)
        }
        XCTAssertEqual(supersededA.withLock { $0.count }, 1)
        XCTAssertNil(storeA.writeFailure, "being superseded is not an etcd problem")
        XCTAssertEqual(LeaderState.decode(try XCTUnwrap(try client.get(keys.state)?.value))?.epoch, Int(fenceB.token), "B's state stands")
        XCTAssertEqual(try client.get(keys.claim(104)), nil)

        // Not leading at all (no fence): refused before asking etcd.
        let noFence = EtcdLeaderStateStorage(writes: writes, fence: { nil })
        XCTAssertEqual(noFence.write([], epoch: nil, watermark: nil)?.kind, .superseded)
        guard case .refused = MessageClaim.etcd(writes, fence: nil, message: 105) else { return XCTFail() }
    }

    /// etcd down: a write fails as I/O (retried, no DM answered meanwhile), a read names the
    /// variable to check, a claim is refused; counted in the metrics.
    func testEtcdUnreachableIsAnIOFailureNotASupersession() throws {
        let cluster = try EtcdCluster(members: 1)
        var configuration = try EtcdClientConfiguration(endpoints: cluster.endpoints)
        configuration.attemptTimeout = .milliseconds(300)
        let client = try EtcdClient(configuration: configuration)
        let keys = try EtcdKeyspace()
        let writes = FencedWrites(client: client, keyspace: keys)
        let fence = EtcdFence(leaderKey: keys.leader, token: try client.put(keys.leader, value: []))
        let metrics = BotMetrics()
        let record = metrics.attachEtcd()
        XCTAssertNil(metrics.etcdReachable, "no request yet")
        let storage = EtcdLeaderStateStorage(writes: writes, fence: { fence }, record: record)
        XCTAssertNil(storage.write(Array("{}".utf8), epoch: 1, watermark: 1))
        XCTAssertTrue(metrics.registry.render().contains("bot_etcd_up 1"))
        XCTAssertEqual(metrics.etcdReachable, true)
        cluster.kill(0)
        XCTAssertEqual(storage.write(Array("{}".utf8), epoch: 1, watermark: 1)?.kind, .io)
        XCTAssertThrowsError(try storage.read()) { error in
            XCTAssertEqual((error as? ConfigProblem)?.source, "BOT_ETCD_ENDPOINTS")
        }
        guard case .refused = MessageClaim.etcd(writes, fence: fence, message: 7, budget: .milliseconds(500), record: record) else {
            return XCTFail("a claim without etcd must be refused")
        }
        let text = metrics.registry.render()
        XCTAssertTrue(text.contains("bot_etcd_up 0"), text)
        XCTAssertEqual(metrics.etcdReachable, false)
        let health = BotEndpoints.respond(to: HTTPRequest(path: "/healthz"), role: .standby, stateFailure: nil, eventQueue: nil,
                                          election: "etcd", etcdReachable: metrics.etcdReachable, metrics: metrics)
        XCTAssertEqual(String(decoding: health.body, as: UTF8.self), #"{"status":"ok","role":"standby","election":"etcd","etcd":"unreachable"}"#)
        XCTAssertTrue(text.contains(#"bot_etcd_request_failures_total{request="write_state"} 1"#), text)
        XCTAssertTrue(text.contains(#"bot_etcd_request_failures_total{request="read_state"} 1"#), text)
        XCTAssertTrue(text.contains(#"bot_etcd_request_failures_total{request="claim"} 1"#), text)
    }
}

/// The claim before each reply, as `ReplySender` uses it: a DM another leader claimed is not
/// sent and is settled without a reply; a refused claim sends nothing and leaves it open.
final class ReplySenderClaimTests: XCTestCase {
    func testAReplyIsSentOnlyUnderItsClaim() throws {
        let server = try ScriptedHTTPServer(fallback: .json(200, #"{"result":"success","msg":"","id":9001}"#))
        defer { server.stop() }
        let dir = TemporaryDirectory(prefix: "replyclaim")
        let store = LeaderStateStore(directory: dir.path)
        try store.update { _ = $0.advance(to: 10) }
        let zulip = ZulipClient(apiBase: server.baseURL + "/api/v1", email: "bot@example.com", apiKey: "key",
                                http: HTTPClient(options: HTTPClientOptions(userAgent: "tests")))
        let session = DMHandler.Session(botID: 1, featureLevel: 300)
        func sender(_ claim: MessageClaim) -> ReplySender {
            ReplySender(zulip: zulip, store: store, deadline: .seconds(2), claim: { _ in claim },
                        logger: Logger(component: "bot", sink: LogSink.memory()), credentialsRejected: { fatalError("no 401 here") })
        }

        XCTAssertEqual(sender(.claimedElsewhere(byToken: 3)).send(to: [42], "hi", inReplyTo: 11, session: session), .claimedElsewhere)
        XCTAssertEqual(sender(.refused("fenced out")).send(to: [42], "hi", inReplyTo: 12, session: session), .failed(maybeDelivered: false))
        XCTAssertEqual(server.requests.count, 0, "nothing sent without the claim")
        XCTAssertEqual(store.current.noReply, [11], "claimed elsewhere: settled here without a reply")
        XCTAssertEqual(store.current.sending, [], "no send left in doubt")

        XCTAssertEqual(sender(.proceed).send(to: [42], "hi", inReplyTo: 13, session: session), .sent(9001))
        XCTAssertEqual(server.requests.count, 1)
        XCTAssertEqual(store.current.replies[13], 9001)
    }
}

/// Expiry edits are actions like replies: only while leading, and under their claim (etcd).
final class ExpiryEditorClaimTests: XCTestCase {
    func testAnEditIsMadeOnlyUnderItsClaim() throws {
        let dir = TemporaryDirectory(prefix: "editclaim")
        let store = LeaderStateStore(directory: dir.path)
        try store.update { _ = $0.advance(to: 10) }
        let edited = Mutex<[Int]>([])
        let decisions: [Int: MessageClaim] = [21: .proceed, 22: .claimedElsewhere(byToken: 3), 23: .refused("fenced out")]
        let editor = ExpiryEditor(logger: Logger(component: "bot", sink: LogSink.memory()), metrics: BotMetrics(), store: store,
                                  claim: { decisions[$0] ?? .proceed }) { id, _, _ throws(ZulipError) in
            edited.withLock { $0.append(id) }
        }
        // Due in an hour: only the flush does them.
        for id in [21, 22, 23] { editor.schedule(messageID: id, label: "certus", dueAt: ExpiryEditor.unixNow() + 3600) }
        let (done, left) = editor.flush(until: .now + .seconds(5))
        XCTAssertEqual(edited.withLock { $0 }, [21], "only the edit this leader holds the claim of")
        XCTAssertEqual(done, 2)
        XCTAssertEqual(left, 1)
        XCTAssertEqual(store.current.pendingEdits.map(\.messageID), [23], "the one it may not do now stays for the next leader")
    }
}
