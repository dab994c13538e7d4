import CurlHTTP
import Foundation
import TestSupport
import XCTest
@testable import Etcd

/// Every client call against one real etcd member (Unix socket), sharing one member per class;
/// each test works under its own key prefix.
final class EtcdClientTests: XCTestCase {
    nonisolated(unsafe) private static var cluster: EtcdCluster?
    private var client: EtcdClient!
    private var prefix = ""

    override class func setUp() {
        super.setUp()
        cluster = try? EtcdCluster(members: 1)
        if let cluster { print("etcd-start: 1 member healthy after \(String(format: "%.2f", cluster.startSeconds[0])) s") }
    }

    override class func tearDown() {
        cluster = nil
        super.tearDown()
    }

    override func setUpWithError() throws {
        let cluster = try XCTUnwrap(Self.cluster, "etcd did not start; is etcd-server installed (scripts/bootstrap)?")
        client = try EtcdClient(configuration: EtcdClientConfiguration(endpoints: cluster.endpoints))
        prefix = "/test/\(name.split(separator: " ").last!.dropLast())/"
    }

    func testLeaseGrantKeepAliveTimeToLiveAndRevoke() throws {
        let lease = try client.grantLease(ttlSeconds: 5)
        XCTAssertNotEqual(lease.id, 0)
        XCTAssertEqual(lease.ttlSeconds, 5)
        try client.put(prefix + "leased", value: Array("v".utf8), lease: lease.id)

        let status = try client.timeToLive(lease: lease.id, withKeys: true)
        XCTAssertEqual(status.grantedSeconds, 5)
        XCTAssertTrue((1...5).contains(status.remainingSeconds), "\(status.remainingSeconds)")
        XCTAssertEqual(status.keys, [Array((prefix + "leased").utf8)])
        XCTAssertEqual(try client.keepAlive(lease: lease.id), EtcdLease(id: lease.id, ttlSeconds: 5))

        try client.revokeLease(lease.id)
        XCTAssertNil(try client.get(prefix + "leased"), "revoking deletes the lease's keys")
        XCTAssertThrowsError(try client.keepAlive(lease: lease.id)) { XCTAssertEqual($0 as? EtcdError, .leaseNotFound) }
        XCTAssertThrowsError(try client.timeToLive(lease: lease.id)) { XCTAssertEqual($0 as? EtcdError, .leaseNotFound) }
        XCTAssertThrowsError(try client.revokeLease(lease.id)) { error in
            XCTAssertEqual(error as? EtcdError, .leaseNotFound)
            XCTAssertTrue("\(error)".contains("grant a new lease"), "\(error)")
        }
        XCTAssertThrowsError(try client.put(prefix + "late", value: [1], lease: lease.id)) { XCTAssertEqual($0 as? EtcdError, .leaseNotFound) }
        XCTAssertThrowsError(try client.grantLease(ttlSeconds: 0)) { XCTAssertEqual($0 as? EtcdError, .invalidRequest) }
    }

    func testGetPrefixLimitAndDeleteRange() throws {
        for key in ["a/1", "a/2", "a/3", "b"] { try client.put(prefix + key, value: Array(key.utf8)) }
        XCTAssertEqual(try client.get(prefix + "a/2")?.value, Array("a/2".utf8))
        XCTAssertNil(try client.get(prefix + "a/9"))

        let all = try client.range(.prefix(prefix + "a/"))
        XCTAssertEqual(all.kvs.map(\.keyText), ["a/1", "a/2", "a/3"].map { prefix + $0 })
        XCTAssertEqual(all.count, 3)
        XCTAssertFalse(all.more)
        let limited = try client.range(.prefix(prefix + "a/"), limit: 2)
        XCTAssertEqual(limited.kvs.count, 2)
        XCTAssertTrue(limited.more)
        XCTAssertEqual(limited.count, 3)
        let interval = try client.range(.interval(from: prefix + "a/2", to: prefix + "b"))
        XCTAssertEqual(interval.kvs.map(\.keyText), ["a/2", "a/3"].map { prefix + $0 }, "[from, to)")

        XCTAssertEqual(try client.deleteRange(.key(prefix + "b")), 1)
        XCTAssertEqual(try client.deleteRange(.key(prefix + "b")), 0)
        XCTAssertEqual(try client.deleteRange(.prefix(prefix)), 3)
        XCTAssertEqual(try client.range(.prefix(prefix)).kvs, [])
    }

    func testPutRevisionsAndVersions() throws {
        let first = try client.put(prefix + "k", value: [1])
        let second = try client.put(prefix + "k", value: [2])
        XCTAssertGreaterThan(second, first)
        let kv = try XCTUnwrap(try client.get(prefix + "k"))
        XCTAssertEqual(kv.createRevision, first)
        XCTAssertEqual(kv.modRevision, second)
        XCTAssertEqual(kv.version, 2)
        XCTAssertEqual(kv.value, [2])
        XCTAssertEqual(kv.lease, 0)
    }

    func testTxnComparesOnCreateModValueAndVersion() throws {
        let key = prefix + "k"
        let createIfAbsent = EtcdTxn(
            compare: [.createRevision(key, .equal, 0)],
            success: [.put(key, value: Array("one".utf8)), .get(.key(key))],
            failure: [.get(.key(key))])
        let created = try client.txn(createIfAbsent)
        XCTAssertTrue(created.succeeded)
        guard case .put(let revision)? = created.responses.first else { return XCTFail("\(created.responses)") }
        XCTAssertEqual(created.range(at: 1)?.kvs.first?.createRevision, revision)
        XCTAssertEqual(created.revision, revision)

        let again = try client.txn(createIfAbsent)
        XCTAssertFalse(again.succeeded, "no `succeeded` field means false")
        XCTAssertEqual(again.range(at: 0)?.kvs.first?.value, Array("one".utf8), "the failure branch ran")

        // Compare-and-swap on mod_revision: the stale revision loses.
        let swap = try client.txn(EtcdTxn(compare: [.modRevision(key, .equal, revision)], success: [.put(key, value: Array("two".utf8))]))
        XCTAssertTrue(swap.succeeded)
        XCTAssertFalse(try client.txn(EtcdTxn(compare: [.modRevision(key, .equal, revision)], success: [.put(key, value: [0])])).succeeded)

        XCTAssertTrue(try client.txn(EtcdTxn(compare: [.value(key, .equal, Array("two".utf8))], success: [])).succeeded)
        XCTAssertFalse(try client.txn(EtcdTxn(compare: [.value(key, .equal, Array("one".utf8))], success: [])).succeeded)
        XCTAssertTrue(try client.txn(EtcdTxn(compare: [.version(key, .greater, 1)], success: [])).succeeded)
        XCTAssertTrue(try client.txn(EtcdTxn(compare: [.version(key, .less, 3), .createRevision(key, .notEqual, 0)], success: [])).succeeded)

        let deleted = try client.txn(EtcdTxn(compare: [.version(key, .equal, 2)], success: [.delete(.key(key))]))
        XCTAssertEqual(deleted.responses, [.delete(deleted: 1)])
        XCTAssertNil(try client.get(key))
    }

    func testWatchReportsPutsAndDeletesAndResumesFromTheRevisionItReturns() throws {
        let key = prefix + "w"
        let first = try client.put(key, value: [1])
        try client.put(key, value: [2])
        try client.deleteRange(.key(key))

        var seen: [EtcdEvent] = []
        let end = try client.watch(EtcdWatchRequest(range: .key(key), startRevision: first, previousValues: true)) { events, _ in
            seen += events
            return seen.count < 3
        }
        XCTAssertEqual(seen.map(\.kind), [.put, .put, .delete])
        XCTAssertEqual(seen.map(\.kv.value), [[1], [2], []])
        XCTAssertEqual(seen[1].previous?.value, [1], "previous values were asked for")
        XCTAssertEqual(end, .stoppedByHandler(resumeFrom: seen[2].kv.modRevision + 1))

        // Resuming from there misses nothing and repeats nothing.
        let later = try client.put(key, value: [3])
        guard case .stoppedByHandler(let resume) = end else { return }
        var resumed: [EtcdEvent] = []
        _ = try client.watch(EtcdWatchRequest(range: .key(key), startRevision: resume)) { events, _ in
            resumed += events
            return false
        }
        XCTAssertEqual(resumed.map(\.kv.modRevision), [later])
    }

    func testWatchSeesALiveChangeAndIsCancellable() throws {
        let key = prefix + "live"
        let start = try client.put(prefix + "marker", value: [0])
        let cancellation = HTTPCancellation()
        let seen = expectation(description: "put seen")
        let ended = expectation(description: "watch ended")
        let client = self.client!
        DispatchQueue.global().async {
            let end = try? client.watch(EtcdWatchRequest(range: .prefix(key), startRevision: start + 1), cancellation: cancellation) { events, _ in
                if events.contains(where: { $0.kind == .put && $0.kv.value == [7] }) { seen.fulfill() }
                return true
            }
            XCTAssertEqual(end, .cancelled)
            ended.fulfill()
        }
        try client.put(key + "/x", value: [7])
        wait(for: [seen], timeout: 10)
        cancellation.cancel()
        wait(for: [ended], timeout: 10)
    }

    func testWatchEndsAfterItsMaxDurationWithTheRevisionToResumeFrom() throws {
        let now = try client.put(prefix + "quiet", value: [0])
        let end = try client.watch(EtcdWatchRequest(range: .key(prefix + "nothing"), maxDuration: .milliseconds(400))) { _, _ in true }
        XCTAssertEqual(end, .interrupted(resumeFrom: now + 1), "a watch from now resumes after the current revision")
    }

    func testWatchFromACompactedRevisionSaysSo() throws {
        let key = prefix + "c"
        let first = try client.put(key, value: [1])
        let last = try client.put(key, value: [2])
        try client.compact(revision: last)
        XCTAssertThrowsError(try client.watch(EtcdWatchRequest(range: .key(key), startRevision: first)) { _, _ in true }) { error in
            XCTAssertEqual(error as? EtcdError, .compacted)
            XCTAssertEqual((error as? EtcdError)?.compactRevision, last)
            XCTAssertTrue("\(error)".contains("watch again"), "\(error)")
        }
    }

    func testTooLargeRequestsAndTxnsAreRefusedWithoutEchoingTheValue() throws {
        let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        let big = Array(String(repeating: secret, count: 1_600_000 / secret.count).utf8)
        XCTAssertThrowsError(try client.put(prefix + "big", value: big)) { error in
            XCTAssertEqual(error as? EtcdError, .requestTooLarge)
            XCTAssertNil(SecretScan.leakedPiece(of: [secret], in: "\(error)"))
        }
        let ops = (0..<200).map { EtcdTxn.Operation.put(prefix + "op\($0)", value: Array(secret.utf8)) }
        XCTAssertThrowsError(try client.txn(EtcdTxn(compare: [], success: ops))) { error in
            XCTAssertEqual(error as? EtcdError, .tooManyOperations)
            XCTAssertNil(SecretScan.leakedPiece(of: [secret], in: "\(error)"))
        }
    }

    func testUnreachableOnEveryEndpointListsEachCause() throws {
        let refusing = try ReservedPort()
        defer { refusing.close() }
        let dead = try EtcdClient(configuration: EtcdClientConfiguration(endpoints: [
            "unix://" + NSTemporaryDirectory() + "no-etcd-here.sock", "http://127.0.0.1:\(refusing.port)",
        ]))
        XCTAssertThrowsError(try dead.get("/x")) { error in
            XCTAssertEqual(error as? EtcdError, .unreachable)
            let message = "\(error)"
            XCTAssertTrue(message.contains("no-etcd-here.sock") && message.contains("127.0.0.1"), message)
            XCTAssertTrue(message.contains("check that the etcd members are running"), message)
        }
    }

    func testAnAnswerThatIsNotEtcdJSONIsABadResponse() throws {
        // etcd's /metrics answers a POST with 200 and Prometheus text.
        XCTAssertThrowsError(try client.call("/metrics", EtcdWire.LeaseIDRequest(ID: EtcdWire.Int64Text(1)),
                                             as: EtcdWire.TxnResponse.self, budget: nil)) { error in
            XCTAssertEqual(error as? EtcdError, .badResponse)
            XCTAssertTrue("\(error)".contains("etcd 3.4+ client URL"), "\(error)")
        }
        XCTAssertThrowsError(try client.call("/v3/kv/nothing", EtcdWire.LeaseIDRequest(ID: EtcdWire.Int64Text(1)),
                                             as: EtcdWire.TxnResponse.self, budget: nil)) { error in
            XCTAssertEqual(error as? EtcdError, .rejected)
            XCTAssertTrue("\(error)".contains("HTTP 404"), "\(error)")
        }
    }
}
