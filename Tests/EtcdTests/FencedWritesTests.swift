import Foundation
import Platform
import XCTest
@testable import Etcd

/// The fenced transactions as built and as their answers are read (no etcd needed; the
/// integration tests run them against etcd).
final class FencedWritesTests: XCTestCase {
    private let keys = try! EtcdKeyspace(prefix: "/totp-bot")
    private let fence = EtcdFence(leaderKey: "/totp-bot/leader", token: 42)

    private func kv(_ key: String, createRevision: Int64, value: String = "") -> EtcdKeyValue {
        EtcdKeyValue(key: Array(key.utf8), value: Array(value.utf8), createRevision: createRevision, modRevision: createRevision, version: 1, lease: 0)
    }

    private func failedResult(leader: EtcdKeyValue?, claim: EtcdKeyValue? = nil) throws -> EtcdTxnResult {
        func range(_ kv: EtcdKeyValue?) -> String {
            guard let kv else { return #"{"response_range":{"header":{"revision":"50"}}}"# }
            return #"{"response_range":{"header":{"revision":"50"},"kvs":[{"key":"\#(Base64.encode(kv.key))","create_revision":"\#(kv.createRevision)","mod_revision":"\#(kv.modRevision)","version":"1","value":"\#(Base64.encode(kv.value))"}],"count":"1"}}"#
        }
        let json = #"{"header":{"revision":"50"},"responses":[\#(range(leader)),\#(range(claim))]}"#
        return try EtcdTxnResult(JSONDecoder().decode(EtcdWire.TxnResponse.self, from: Data(json.utf8)))
    }

    func testKeyspaceLayout() throws {
        XCTAssertEqual(keys.prefix, "/totp-bot/")
        XCTAssertEqual(keys.leader, "/totp-bot/leader")
        XCTAssertEqual(keys.state, "/totp-bot/state")
        XCTAssertEqual(keys.claim(42), "/totp-bot/claims/00000000000000000042")
        XCTAssertEqual(keys.claim(Int64.max), "/totp-bot/claims/09223372036854775807")
        XCTAssertLessThan(keys.claim(9), keys.claim(10), "byte order is numeric order")
        XCTAssertEqual(keys.claims(below: 100), .interval(from: "/totp-bot/claims/", to: "/totp-bot/claims/00000000000000000100"))
        XCTAssertThrowsError(try EtcdKeyspace(prefix: ""))
        XCTAssertThrowsError(try EtcdKeyspace(prefix: "/a\nb/"))
    }

    func testClaimTransactionChecksFenceAndAbsenceAndReadsBothOnFailure() {
        let txn = FencedWrites.claimTransaction(keyspace: keys, message: 1234, fence: fence)
        let claim = "/totp-bot/claims/00000000000000001234"
        XCTAssertEqual(txn.compare, [.createRevision("/totp-bot/leader", .equal, 42), .createRevision(claim, .equal, 0)])
        XCTAssertEqual(txn.success, [.put(claim, value: Array("42".utf8))], "no lease: claims outlive the leader")
        XCTAssertEqual(txn.failure, [.get(.key("/totp-bot/leader")), .get(.key(claim))])
    }

    func testClaimOutcomes() throws {
        let claimKey = keys.claim(1)
        XCTAssertEqual(try FencedWrites.claimOutcome(try failedResult(leader: kv(fence.leaderKey, createRevision: 42), claim: kv(claimKey, createRevision: 45, value: "41")), fence: fence),
                       .alreadyClaimed(byToken: 41))
        XCTAssertEqual(try FencedWrites.claimOutcome(try failedResult(leader: kv(fence.leaderKey, createRevision: 42), claim: kv(claimKey, createRevision: 45, value: "42")), fence: fence),
                       .alreadyClaimed(byToken: 42), "my own earlier attempt")
        XCTAssertEqual(try FencedWrites.claimOutcome(try failedResult(leader: kv(fence.leaderKey, createRevision: 47), claim: kv(claimKey, createRevision: 45, value: "41")), fence: fence),
                       .fencedOut(leaderToken: 47), "fenced out wins over already claimed")
        XCTAssertEqual(try FencedWrites.claimOutcome(try failedResult(leader: nil), fence: fence), .fencedOut(leaderToken: nil))
        XCTAssertThrowsError(try FencedWrites.claimOutcome(try failedResult(leader: kv(fence.leaderKey, createRevision: 42)), fence: fence))
    }

    func testStateAndPruneTransactionsAreFenced() {
        let state = FencedWrites.stateTransaction(keyspace: keys, document: [1, 2, 3], fence: fence)
        XCTAssertEqual(state.compare, [fence.compare])
        XCTAssertEqual(state.success, [.put("/totp-bot/state", value: [1, 2, 3])])
        let prune = FencedWrites.pruneTransaction(keyspace: keys, below: 500, fence: fence)
        XCTAssertEqual(prune.compare, [fence.compare])
        XCTAssertEqual(prune.success, [.delete(keys.claims(below: 500))])
    }
}
