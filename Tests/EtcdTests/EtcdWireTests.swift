import Foundation
import XCTest
@testable import Etcd

/// Parsing etcd 3.4 gateway answers as etcd wrote them here (captured with curl), endpoints,
/// key ranges, line splitting and error mapping. No etcd needed.
final class EtcdWireTests: XCTestCase {
    private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    func testRangeWithZeroValuedFieldsLeftOut() throws {
        let empty = EtcdRangeResult(try decode(EtcdWire.RangeResponse.self,
            #"{"header":{"cluster_id":"5078551556730426028","member_id":"8526692285510888262","revision":"1","raft_term":"2"}}"#))
        XCTAssertEqual(empty.kvs, [], "an empty range has no kvs")
        XCTAssertEqual(empty.count, 0)
        XCTAssertFalse(empty.more)
        XCTAssertEqual(empty.revision, 1)

        let one = EtcdRangeResult(try decode(EtcdWire.RangeResponse.self,
            #"{"header":{"revision":"2"},"kvs":[{"key":"YQ==","create_revision":"2","mod_revision":"2","version":"1","value":"MQ=="}],"count":"1"}"#))
        XCTAssertEqual(one.kvs, [EtcdKeyValue(key: [0x61], value: [0x31], createRevision: 2, modRevision: 2, version: 1, lease: 0)])
        XCTAssertEqual(one.kvs.first?.keyText, "a")
        XCTAssertEqual(one.count, 1)
    }

    func testHeaderIDsAboveInt64AreAccepted() throws {
        // cluster_id and member_id are uint64: this member ID (seen here) does not fit an Int64.
        let put = try decode(EtcdWire.PutResponse.self,
            #"{"header":{"cluster_id":"18134577885048374400","member_id":"15142094329271029060","revision":"2","raft_term":"2"}}"#)
        XCTAssertEqual(put.header?.revision?.value, 2)
    }

    func testTxnWithoutSucceededFieldFailed() throws {
        let failed = try EtcdTxnResult(try decode(EtcdWire.TxnResponse.self,
            #"{"header":{"revision":"2"},"responses":[{"response_range":{"header":{"revision":"2"},"kvs":[{"key":"YQ==","create_revision":"2","mod_revision":"2","version":"1","value":"MQ==","lease":"3118358217838948614"}],"count":"1"}}]}"#))
        XCTAssertFalse(failed.succeeded)
        XCTAssertEqual(failed.range(at: 0)?.kvs.first?.lease, 3_118_358_217_838_948_614, "int64 beyond 2^53 read exactly from its string")

        let succeeded = try EtcdTxnResult(try decode(EtcdWire.TxnResponse.self,
            #"{"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}},{"response_delete_range":{"header":{"revision":"3"},"deleted":"1"}},{"response_delete_range":{"header":{"revision":"3"}}}]}"#))
        XCTAssertTrue(succeeded.succeeded)
        XCTAssertEqual(succeeded.revision, 3)
        XCTAssertEqual(succeeded.responses, [.put(revision: 3), .delete(deleted: 1), .delete(deleted: 0)])
        XCTAssertNil(succeeded.range(at: 0))

        let noResponses = try EtcdTxnResult(try decode(EtcdWire.TxnResponse.self, #"{"header":{"revision":"3"}}"#))
        XCTAssertEqual(noResponses.responses, [])
        XCTAssertThrowsError(try EtcdTxnResult(try decode(EtcdWire.TxnResponse.self, #"{"responses":[{"response_txn":{}}]}"#))) {
            XCTAssertEqual($0 as? EtcdError, .badResponse)
        }
    }

    func testWatchLinesCreatedPutDeleteAndCompacted() throws {
        typealias Line = EtcdWire.StreamLine<EtcdWire.WatchResponse>
        let created = try decode(Line.self, #"{"result":{"header":{"revision":"3"},"created":true}}"#)
        XCTAssertEqual(created.result?.created, true)
        let put = try decode(Line.self, #"{"result":{"header":{"revision":"4"},"events":[{"kv":{"key":"dw==","create_revision":"4","mod_revision":"4","version":"1","value":"MQ=="}}]}}"#)
        let putEvent = EtcdEvent(try XCTUnwrap(put.result?.events?.first))
        XCTAssertEqual(putEvent.kind, .put, "a missing type is PUT, the zero value")
        XCTAssertEqual(putEvent.kv.value, Array("1".utf8))
        let delete = try decode(Line.self, #"{"result":{"header":{"revision":"5"},"events":[{"type":"DELETE","kv":{"key":"dw==","mod_revision":"5"}}]}}"#)
        let deleteEvent = EtcdEvent(try XCTUnwrap(delete.result?.events?.first))
        XCTAssertEqual(deleteEvent.kind, .delete)
        XCTAssertEqual(deleteEvent.kv.modRevision, 5)
        XCTAssertEqual(deleteEvent.kv.createRevision, 0)
        let compacted = try decode(Line.self, #"{"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"5"}}"#)
        XCTAssertEqual(compacted.result?.compact_revision?.value, 5)
        let error = try decode(Line.self, #"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}"#)
        XCTAssertEqual(error.error?.http_code, 503)
    }

    func testLeaseAnswers() throws {
        let grant = try decode(EtcdWire.LeaseGrantResponse.self, #"{"header":{"revision":"1"},"ID":"3118358217838948614","TTL":"5"}"#)
        XCTAssertEqual(grant.ID?.value, 3_118_358_217_838_948_614)
        XCTAssertEqual(grant.TTL?.value, 5)
        // A keepalive for an unknown lease is a 200 whose TTL (0) is left out.
        let unknown = try decode(EtcdWire.StreamLine<EtcdWire.LeaseKeepAliveResponse>.self, #"{"result":{"header":{"revision":"1"},"ID":"12345"}}"#)
        XCTAssertNil(unknown.result?.TTL)
        let ttl = try decode(EtcdWire.LeaseTimeToLiveResponse.self, #"{"header":{},"ID":"12345","TTL":"-1"}"#)
        XCTAssertEqual(ttl.TTL?.value, -1)
    }

    func testInt64AcceptsNumbersAndRefusesText() throws {
        XCTAssertEqual(try decode(EtcdWire.Int64Text.self, "42").value, 42)
        XCTAssertEqual(try decode(EtcdWire.Int64Text.self, #""-9223372036854775808""#).value, Int64.min)
        XCTAssertThrowsError(try decode(EtcdWire.Int64Text.self, #""4x2""#))
        XCTAssertThrowsError(try decode(EtcdWire.Bytes.self, #""not base64!""#))
        let encoded = try JSONEncoder().encode(EtcdWire.LeaseGrantRequest(TTL: EtcdWire.Int64Text(5)))
        XCTAssertEqual(String(decoding: encoded, as: UTF8.self), #"{"TTL":"5"}"#, "int64 sent as a string, nil fields left out")
    }

    func testTxnEncodesEveryCompareTargetAndOperation() throws {
        let txn = EtcdTxn(
            compare: [.createRevision("k", .equal, 0), .modRevision("k", .less, 9), .version("k", .greater, 1),
                      .value("k", .notEqual, [1, 2]), EtcdTxn.Compare(key: "k", relation: .equal, target: .lease(7))],
            success: [.put("k", value: [0xFF], lease: 7), .delete(.prefix("p/"))],
            failure: [.get(.key("k"))])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(txn.wire)) as? [String: Any])
        let compares = try XCTUnwrap(json["compare"] as? [[String: String]])
        XCTAssertEqual(compares[0], ["key": "aw==", "target": "CREATE", "result": "EQUAL", "create_revision": "0"])
        XCTAssertEqual(compares[1], ["key": "aw==", "target": "MOD", "result": "LESS", "mod_revision": "9"])
        XCTAssertEqual(compares[2], ["key": "aw==", "target": "VERSION", "result": "GREATER", "version": "1"])
        XCTAssertEqual(compares[3], ["key": "aw==", "target": "VALUE", "result": "NOT_EQUAL", "value": "AQI="])
        XCTAssertEqual(compares[4], ["key": "aw==", "target": "LEASE", "result": "EQUAL", "lease": "7"])
        let success = try XCTUnwrap(json["success"] as? [[String: [String: String]]])
        XCTAssertEqual(success[0]["request_put"], ["key": "aw==", "value": "/w==", "lease": "7"])
        XCTAssertEqual(success[1]["request_delete_range"], ["key": "cC8=", "range_end": "cDA="])
        let failure = try XCTUnwrap(json["failure"] as? [[String: [String: String]]])
        XCTAssertEqual(failure[0]["request_range"], ["key": "aw=="])
    }

    func testPrefixEnd() {
        XCTAssertEqual(EtcdKeyRange.prefix("/a/").rangeEnd, Array("/a0".utf8))
        XCTAssertEqual(EtcdKeyRange.prefixEnd([0x61, 0xFF, 0xFF]), [0x62])
        XCTAssertEqual(EtcdKeyRange.prefixEnd([0xFF]), [0], "all 0xff: to the end of the keyspace")
        XCTAssertEqual(EtcdKeyRange.prefixEnd([]), [0])
        XCTAssertNil(EtcdKeyRange.key("a").rangeEnd)
    }

    func testEndpoints() throws {
        let tcp = try EtcdEndpoint("http://127.0.0.1:2379/")
        XCTAssertEqual(tcp.baseURL, "http://127.0.0.1:2379")
        XCTAssertNil(tcp.unixSocketPath)
        XCTAssertEqual(try EtcdEndpoint("https://etcd-1:2379").baseURL, "https://etcd-1:2379")
        let unix = try EtcdEndpoint("unix:///run/etcd/m1-client:1")
        XCTAssertEqual(unix.baseURL, "http://localhost")
        XCTAssertEqual(unix.unixSocketPath, "/run/etcd/m1-client:1")
        XCTAssertEqual(try EtcdEndpoint("unixs:///run/etcd.sock").baseURL, "https://localhost")
        for bad in ["", "etcd:2379", "ftp://x:1", "http://", "http://h:1/v3", "http://user@h:1", "unix://relative",
                    "unix:///" + String(repeating: "x", count: 120), "http://h:1 ", "http://h\n:1"] {
            XCTAssertThrowsError(try EtcdEndpoint(bad), bad) { error in
                XCTAssertEqual(error as? EtcdError, .invalidRequest)
                XCTAssertTrue("\(error)".contains("http://host:port"), "\(error)")
            }
        }
        XCTAssertThrowsError(try EtcdClientConfiguration(endpoints: []))
        var configuration = try EtcdClientConfiguration(endpoints: ["http://127.0.0.1:2379"])
        configuration.clientCertificateFile = "/etc/cert.pem"
        XCTAssertThrowsError(try EtcdClient(configuration: configuration), "a certificate without its key")
    }

    func testLineBufferSplitsAnywhereAndBoundsALine() {
        var buffer = JSONLineBuffer(maxLineBytes: 8)
        func feed(_ text: String) -> [String] {
            Array(text.utf8).withUnsafeBytes { buffer.append($0) }.map { String(decoding: $0, as: UTF8.self) }
        }
        XCTAssertEqual(feed("{\"a\""), [])
        XCTAssertEqual(feed(":1}\r\n\n{}\n{"), ["{\"a\":1}", "{}"])
        XCTAssertEqual(buffer.finish().map { String(decoding: $0, as: UTF8.self) }, "{")
        XCTAssertFalse(buffer.overflowed)
        _ = feed("123456789")
        XCTAssertTrue(buffer.overflowed)
    }

    func testErrorMapping() {
        func map(_ status: Int, _ body: String) -> EtcdError { EtcdClient.error(status: status, body: Array(body.utf8)) }
        XCTAssertEqual(map(404, #"{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}"#), .leaseNotFound)
        XCTAssertEqual(map(400, #"{"error":"etcdserver: request is too large","message":"etcdserver: request is too large","code":3}"#), .requestTooLarge)
        XCTAssertEqual(map(429, #"{"error":"grpc: received message larger than max (2097162 vs. 2097152)","code":8}"#), .requestTooLarge)
        XCTAssertEqual(map(400, #"{"error":"etcdserver: too many operations in txn request","code":3}"#), .tooManyOperations)
        XCTAssertEqual(map(400, #"{"error":"mvcc: required revision has been compacted","code":11}"#), .compacted)
        let denied = map(403, #"{"error":"etcdserver: permission denied","code":7}"#)
        XCTAssertEqual(denied, .rejected)
        XCTAssertTrue(denied.message.contains("permission denied") && denied.message.contains("role"), denied.message)
        let garbage = map(400, "<html>\u{1}nope</html>")
        XCTAssertTrue(garbage.message.contains("<html>nope</html>"), "control characters dropped: \(garbage.message)")
        XCTAssertTrue(EtcdError.requestTooLarge("x").message.contains("max-request-bytes"), "says what to do")
    }
}
