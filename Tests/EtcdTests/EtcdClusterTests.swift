import CurlHTTP
import Foundation
import Synchronization
import TestSupport
import XCTest
@testable import Etcd

/// The client against a real 3-member cluster (failover, races, lease expiry), and over TLS
/// with a client certificate and over TCP against a single member.
final class EtcdClusterTests: XCTestCase {
    private func client(_ endpoints: [String]) throws -> EtcdClient {
        try EtcdClient(configuration: EtcdClientConfiguration(endpoints: endpoints))
    }

    /// Member indexes with a follower first (killing a follower leaves the raft group whole).
    private func followerFirst(_ cluster: EtcdCluster) throws -> [Int] {
        let leaders = try (0..<cluster.size).filter { try self.client([cluster.endpoint($0)]).status().isRaftLeader }
        return (0..<cluster.size).filter { !leaders.contains($0) } + leaders
    }

    func testAKilledMemberIsFailedOverAndTheOneThatWorkedIsRemembered() throws {
        let cluster = try EtcdCluster(members: 3)
        print("etcd-start: 3 members healthy after \(String(format: "%.2f", cluster.startSeconds[0])) s")
        let order = try followerFirst(cluster)
        let client = try client(order.map(cluster.endpoint))
        try client.put("/failover/before", value: [1])
        XCTAssertEqual(client.preferredEndpoint.text, cluster.endpoint(order[0]))

        cluster.kill(order[0])
        // Every call still succeeds, without a budget: the killed member's socket refuses at once.
        let killed = ContinuousClock.now
        try client.put("/failover/after", value: [2])
        print("etcd-failover: first write after killing a follower took \(ContinuousClock.now - killed)")
        XCTAssertEqual(client.preferredEndpoint.text, cluster.endpoint(order[1]))
        XCTAssertEqual(try client.get("/failover/before")?.value, [1])
        XCTAssertEqual(try client.range(.prefix("/failover/")).count, 2)
        let lease = try client.grantLease(ttlSeconds: 5)
        XCTAssertEqual(try client.keepAlive(lease: lease.id).ttlSeconds, 5)

        // A watch with the dead member listed first starts on a live one.
        let watcher = try self.client(order.map(cluster.endpoint))
        let revision = try client.put("/failover/watched", value: [3])
        var values: [[UInt8]] = []
        _ = try watcher.watch(EtcdWatchRequest(range: .key("/failover/watched"), startRevision: revision)) { events, _ in
            values += events.map(\.kv.value)
            return false
        }
        XCTAssertEqual(values, [[3]])

        // The member back: the client stays with the one that worked instead of starting over.
        try cluster.restart(order[0])
        try client.put("/failover/back", value: [4])
        XCTAssertEqual(client.preferredEndpoint.text, cluster.endpoint(order[1]))

        for member in 0..<3 { cluster.kill(member) }
        XCTAssertThrowsError(try client.get("/failover/before")) { error in
            XCTAssertEqual(error as? EtcdError, .unreachable)
            for member in 0..<3 { XCTAssertTrue("\(error)".contains(cluster.endpoint(member)), "\(error)") }
        }
    }

    func testKillingTheRaftLeaderIsFailedOverOnceTheOthersElectANewOne() throws {
        let cluster = try EtcdCluster(members: 3)
        let statuses = try (0..<3).map { try self.client([cluster.endpoint($0)]).status() }
        XCTAssertEqual(Set(statuses.map(\.leaderID)).count, 1, "one raft leader: \(statuses)")
        XCTAssertEqual(statuses.filter(\.isRaftLeader).count, 1)
        XCTAssertTrue(statuses.allSatisfy { $0.version.hasPrefix("3.4.") }, "\(statuses)")
        let leader = try XCTUnwrap(statuses.firstIndex(where: \.isRaftLeader))
        // The raft leader first, then the two followers.
        let client = try self.client([leader, (leader + 1) % 3, (leader + 2) % 3].map(cluster.endpoint))
        try client.put("/raft/before", value: [1])

        cluster.kill(leader)
        let killed = ContinuousClock.now
        // Followers hold what they got while leaderless: the budget lets the call go round again.
        try client.put("/raft/after", value: [2], budget: .seconds(15))
        print("etcd-failover: first write after killing the raft leader took \(ContinuousClock.now - killed)")
        XCTAssertEqual(try client.get("/raft/before")?.value, [1])
        XCTAssertNotEqual(client.preferredEndpoint.text, cluster.endpoint(leader))
        let follower = try self.client([cluster.endpoint((leader + 1) % 3)]).status()
        XCTAssertFalse(follower.leaderID == 0 || follower.leaderID == statuses[leader].memberID, "a new raft leader: \(follower)")
    }

    func testCreateIfAbsentByTwoClientsHasExactlyOneWinnerPerKey() throws {
        let cluster = try EtcdCluster(members: 3)
        // Each client talks to a different member.
        let clients = [try client([cluster.endpoint(1)]), try client([cluster.endpoint(2)])]
        let keys = (0..<25).map { "/race/claim-\($0)" }
        let wins = Mutex<[String: [Int]]>([:])
        let errors = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            for key in keys {
                do {
                    let result = try clients[index].txn(EtcdTxn(
                        compare: [.createRevision(key, .equal, 0)],
                        success: [.put(key, value: Array("client \(index)".utf8))]))
                    if result.succeeded { wins.withLock { $0[key, default: []].append(index) } }
                } catch {
                    errors.withLock { $0.append("\(error)") }
                }
            }
        }
        XCTAssertEqual(errors.withLock { $0 }, [])
        let final = wins.withLock { $0 }
        for key in keys {
            let winners = final[key] ?? []
            XCTAssertEqual(winners.count, 1, "\(key): \(winners)")
            XCTAssertEqual(try clients[0].get(key)?.value, Array("client \(winners.first ?? -1)".utf8))
        }
    }

    func testAnExpiredLeaseDeletesTheLeaderKeyAndAWatcherSeesIt() throws {
        let cluster = try EtcdCluster(members: 3)
        let client = try client(cluster.endpoints)
        let lease = try client.grantLease(ttlSeconds: 2)
        let created = try client.put("/expiry/leader", value: Array("host-a".utf8), lease: lease.id)
        let watcher = try self.client([cluster.endpoint(2)])
        let started = ContinuousClock.now
        var deletion: EtcdEvent?
        // No keepalive: the lease runs out.
        let end = try watcher.watch(EtcdWatchRequest(range: .key("/expiry/leader"), startRevision: created + 1, maxDuration: .seconds(15))) { events, _ in
            deletion = events.first { $0.kind == .delete }
            return deletion == nil
        }
        let waited = ContinuousClock.now - started
        XCTAssertEqual(end, .stoppedByHandler(resumeFrom: (deletion?.kv.modRevision ?? 0) + 1))
        XCTAssertEqual(deletion?.kv.keyText, "/expiry/leader")
        XCTAssertNil(try client.get("/expiry/leader"))
        XCTAssertThrowsError(try client.keepAlive(lease: lease.id)) { XCTAssertEqual($0 as? EtcdError, .leaseNotFound) }
        print("etcd-lease-expiry: 2 s lease, deletion seen after \(waited)")
    }

    func testTLSWithAClientCertificate() throws {
        let tmp = TemporaryDirectory(prefix: "etcd-tls")
        let certificates = try EtcdTestCertificates(directory: tmp.path)
        let cluster = try EtcdCluster(members: 1, transport: .unixTLS(certificates))
        var configuration = try EtcdClientConfiguration(endpoints: cluster.endpoints)
        configuration.caFile = certificates.caFile
        configuration.clientCertificateFile = certificates.clientCertificateFile
        configuration.clientKeyFile = certificates.clientKeyFile
        let client = try EtcdClient(configuration: configuration)
        try client.put("/tls/k", value: [1])
        XCTAssertEqual(try client.get("/tls/k")?.value, [1])

        // Without the client certificate etcd ends the handshake; with the wrong CA curl refuses etcd.
        configuration.clientCertificateFile = nil
        configuration.clientKeyFile = nil
        XCTAssertThrowsError(try EtcdClient(configuration: configuration).get("/tls/k")) { XCTAssertEqual($0 as? EtcdError, .unreachable) }
        var untrusted = try EtcdClientConfiguration(endpoints: cluster.endpoints)
        untrusted.caFile = certificates.clientCertificateFile  // not the CA
        untrusted.clientCertificateFile = certificates.clientCertificateFile
        untrusted.clientKeyFile = certificates.clientKeyFile
        XCTAssertThrowsError(try EtcdClient(configuration: untrusted).get("/tls/k")) { error in
            XCTAssertEqual(error as? EtcdError, .unreachable)
            let key = (try? String(contentsOfFile: certificates.clientKeyFile, encoding: .utf8)) ?? ""
            let keyBody = key.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
            XCTAssertNil(SecretScan.leakedPiece(of: [keyBody], in: "\(error)"), "no key material in errors")
        }
    }

    func testOverTCP() throws {
        let cluster = try EtcdCluster(members: 1, transport: .tcp)
        let client = try client(cluster.endpoints)
        XCTAssertTrue(cluster.endpoints[0].hasPrefix("http://127.0.0.1:"))
        let revision = try client.put("/tcp/k", value: [9])
        XCTAssertEqual(try client.get("/tcp/k")?.modRevision, revision)
        var seen: [[UInt8]] = []
        _ = try client.watch(EtcdWatchRequest(range: .key("/tcp/k"), startRevision: revision)) { events, _ in
            seen += events.map(\.kv.value)
            return false
        }
        XCTAssertEqual(seen, [[9]])
    }
}
