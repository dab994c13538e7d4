import Foundation
import Platform
import Synchronization
import TestSupport
import XCTest
@testable import Etcd
import TextSupport

/// Election drivers against real etcd: one leader among two, takeover from a paused leader
/// within lease + 1 s while the paused one is fenced out, resignation, losing etcd.
final class EtcdElectionTests: XCTestCase {
    /// Role changes as the callback reported them, with when.
    private final class RoleLog: Sendable {
        private let entries = Mutex<[(role: LeadershipRole, at: ContinuousClock.Instant)]>([])

        func record(_ role: LeadershipRole) { entries.withLock { $0.append((role, .now)) } }
        var roles: [LeadershipRole] { entries.withLock { $0.map(\.role) } }

        /// When the first role matching `match` was reported after `since`; waits up to `timeout`.
        func first(after since: ContinuousClock.Instant = .now - .seconds(3600), timeout: TimeInterval,
                   _ match: @escaping (LeadershipRole) -> Bool) -> ContinuousClock.Instant? {
            var found: ContinuousClock.Instant?
            _ = TestProcess.waitUntil(timeout: timeout) {
                found = entries.withLock { $0.first { $0.at >= since && match($0.role) }?.at }
                return found != nil
            }
            return found
        }
    }

    private let machine = LeadershipMachine.Configuration(leaseSeconds: 3, fenceMargin: .seconds(1), retryDelay: .milliseconds(250))

    private func election(_ cluster: EtcdCluster, order: [Int], identity: String, log: RoleLog) throws -> (EtcdElection, EtcdClient) {
        let client = try EtcdClient(configuration: EtcdClientConfiguration(endpoints: order.map(cluster.endpoint)))
        let configuration = try EtcdElectionConfiguration(keyspace: EtcdKeyspace(prefix: "/totp-bot/"), identity: identity, machine: machine)
        let logger = Logger(component: identity, minimumLevel: .info, sink: .standardError)
        return (EtcdElection(client: client, configuration: configuration, logger: logger, onRoleChange: log.record), client)
    }

    private func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    func testOneLeaderAmongTwoAndAPausedLeaderIsReplacedWithinTheLeaseAndFencedOut() throws {
        let cluster = try EtcdCluster(members: 3)
        let keys = try EtcdKeyspace(prefix: "/totp-bot/")
        let logs = [RoleLog(), RoleLog()]
        let (a, clientA) = try election(cluster, order: [0, 1, 2], identity: "driver-a", log: logs[0])
        let (b, clientB) = try election(cluster, order: [2, 1, 0], identity: "driver-b", log: logs[1])
        let elections = [a, b]
        let clients = [clientA, clientB]
        defer { for election in elections { election.stop() } }
        a.start()
        b.start()

        // Exactly one leader, the other standing by; never two leaders at once meanwhile.
        var sawTwoLeaders = false
        let settled = TestProcess.waitUntil(timeout: 15) {
            let roles = elections.map(\.role)
            if roles.filter(\.isLeader).count > 1 { sawTwoLeaders = true }
            return roles.filter(\.isLeader).count == 1 && roles.contains(.standby)
        }
        XCTAssertTrue(settled, "roles: \(elections.map(\.role))")
        XCTAssertFalse(sawTwoLeaders)
        let leader = try XCTUnwrap(elections.firstIndex { $0.role.isLeader })
        let standby = 1 - leader
        guard case .leader(let token) = elections[leader].role else { return XCTFail("no leader") }
        let leaderKey = try XCTUnwrap(try clientA.get(keys.leader))
        XCTAssertEqual(leaderKey.createRevision, token, "the token is the leader key's create revision")
        XCTAssertEqual(leaderKey.keyText, "/totp-bot/leader")
        XCTAssertEqual(String(decoding: leaderKey.value, as: UTF8.self), ["driver-a", "driver-b"][leader])
        XCTAssertTrue(threadNames().contains("etcd-election") && threadNames().contains("etcd-watch"), "\(threadNames())")

        let writes = [FencedWrites(client: clients[0], keyspace: keys), FencedWrites(client: clients[1], keyspace: keys)]
        let oldFence = try XCTUnwrap(elections[leader].fence())
        XCTAssertEqual(try writes[leader].claim(message: 1, fence: oldFence), .claimed)

        // Pause the leader's election thread: no more keepalives, like a frozen process.
        elections[leader].pauseForTesting()
        let paused = ContinuousClock.now
        let takeover = try XCTUnwrap(logs[standby].first(after: paused, timeout: 15) { $0.isLeader }, "no takeover; roles \(logs[standby].roles)")
        let took = takeover - paused
        print("etcd-election-takeover: standby led \(took) after the leader's election thread was paused (lease 3 s)")
        XCTAssertLessThanOrEqual(took, .seconds(4), "takeover within lease + 1 s")

        // The paused leader had stopped acting before the new one started, by its clock alone.
        let deadline = try XCTUnwrap(elections[leader].fenceDeadline)
        XCTAssertLessThan(deadline, takeover)
        XCTAssertEqual(elections[leader].role, .fenced(token: token))
        XCTAssertNil(elections[leader].fence())
        guard case .leader(let newToken) = elections[standby].role else { return XCTFail("\(elections[standby].role)") }
        XCTAssertGreaterThan(newToken, token)

        // Its writes with the fence it held are refused; the new leader's go through.
        XCTAssertEqual(try writes[leader].claim(message: 2, fence: oldFence), .fencedOut(leaderToken: newToken))
        XCTAssertEqual(try writes[leader].writeState(Array("stale".utf8), fence: oldFence), .fencedOut(leaderToken: newToken))
        XCTAssertEqual(try writes[leader].pruneClaims(below: 100, fence: oldFence), .fencedOut(leaderToken: newToken))
        let newFence = try XCTUnwrap(elections[standby].fence())
        XCTAssertEqual(try writes[standby].claim(message: 1, fence: newFence), .alreadyClaimed(byToken: token), "claims outlive their leader")
        XCTAssertEqual(try writes[standby].claim(message: 2, fence: newFence), .claimed)
        XCTAssertEqual(try writes[standby].claim(message: 2, fence: newFence), .alreadyClaimed(byToken: newToken))
        guard case .written = try writes[standby].writeState(Array("fresh".utf8), fence: newFence) else { return XCTFail() }
        XCTAssertEqual(try writes[leader].readState(), Array("fresh".utf8))

        // Resumed, the old leader learns its lease is gone and stands by.
        elections[leader].resumeForTesting()
        XCTAssertNotNil(logs[leader].first(after: paused, timeout: 15) { $0 == .standby }, "roles \(logs[leader].roles)")
        XCTAssertEqual(Array(logs[leader].roles.suffix(3)), [.fenced(token: token), .candidate, .standby])

        // The new leader resigns: the standby takes over without waiting for the lease.
        let resigned = ContinuousClock.now
        XCTAssertTrue(elections[standby].stop())
        let handover = try XCTUnwrap(logs[leader].first(after: resigned, timeout: 10) { $0.isLeader })
        print("etcd-election-handover: standby led \(handover - resigned) after the leader resigned")
        XCTAssertEqual(logs[standby].roles.last, .stopped)
        XCTAssertTrue(elections[leader].stop())
        XCTAssertNil(try clientA.get(keys.leader), "resigning deletes the leader key")
    }

    func testALeaderCutOffFromEtcdStopsActingAtItsFenceAndLeadsAgainWhenEtcdReturns() throws {
        let cluster = try EtcdCluster(members: 1)
        let log = RoleLog()
        let (election, _) = try election(cluster, order: [0], identity: "driver-a", log: log)
        defer { election.stop() }
        election.start()
        XCTAssertNotNil(log.first(timeout: 10) { $0.isLeader }, "roles \(log.roles)")

        cluster.kill(0)
        let killed = ContinuousClock.now
        let fenced = try XCTUnwrap(log.first(after: killed, timeout: 10) { if case .fenced = $0 { true } else { false } }, "roles \(log.roles)")
        let deadline = try XCTUnwrap(election.fenceDeadline)
        XCTAssertLessThanOrEqual(deadline, killed + .seconds(2), "last renewal before the kill + 3 s lease - 1 s margin")
        XCTAssertNil(election.fence())
        print("etcd-election-cut-off: fenced \(fenced - killed) after etcd was killed (deadline \(deadline - killed) after)")

        try cluster.restart(0)
        XCTAssertNotNil(log.first(after: fenced, timeout: 20) { $0.isLeader }, "roles \(log.roles)")
        XCTAssertNotNil(election.fence())
    }

    func testFencedWritesAgainstAHandMadeLeaderKey() throws {
        let cluster = try EtcdCluster(members: 1)
        let client = try EtcdClient(configuration: EtcdClientConfiguration(endpoints: cluster.endpoints))
        let keys = try EtcdKeyspace(prefix: "/fenced")
        let lease = try client.grantLease(ttlSeconds: 30)
        let token = try client.put(keys.leader, value: Array("me".utf8), lease: lease.id)
        let fence = EtcdFence(leaderKey: keys.leader, token: token)
        let writes = FencedWrites(client: client, keyspace: keys)

        for id: Int64 in [5, 9, 10, 100] { XCTAssertEqual(try writes.claim(message: id, fence: fence), .claimed) }
        XCTAssertEqual(try writes.claim(message: 9, fence: fence), .alreadyClaimed(byToken: token))
        XCTAssertEqual(try writes.claim(message: 11, fence: EtcdFence(leaderKey: keys.leader, token: token - 1)), .fencedOut(leaderToken: token))
        XCTAssertThrowsError(try writes.claim(message: -1, fence: fence)) { XCTAssertEqual($0 as? EtcdError, .invalidRequest) }
        XCTAssertNil(try writes.readState())
        guard case .written(let revision) = try writes.writeState(Array(#"{"watermark":10}"#.utf8), fence: fence) else { return XCTFail() }
        XCTAssertEqual(try client.get(keys.state)?.modRevision, revision)

        XCTAssertEqual(try writes.pruneClaims(below: 10, fence: fence), .pruned(count: 2))
        XCTAssertEqual(try client.range(.prefix(keys.claimsPrefix)).kvs.map(\.keyText), [keys.claim(10), keys.claim(100)])

        // The leader's lease revoked: its key is gone, its claims stay, every fenced write is refused.
        try client.revokeLease(lease.id)
        XCTAssertEqual(try writes.claim(message: 200, fence: fence), .fencedOut(leaderToken: nil))
        XCTAssertEqual(try writes.writeState([], fence: fence), .fencedOut(leaderToken: nil))
        XCTAssertEqual(try writes.pruneClaims(below: 1000, fence: fence), .fencedOut(leaderToken: nil))
        XCTAssertEqual(try client.range(.prefix(keys.claimsPrefix)).count, 2)
        XCTAssertEqual(try writes.readState(), Array(#"{"watermark":10}"#.utf8))
    }
}
