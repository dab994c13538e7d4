import Foundation
import XCTest
import Synchronization
import TestSupport
import Etcd
import Platform
@testable import Bot

/// `BOT_ELECTION=etcd`'s settings (each mistake names its variable, never a file's content) and
/// how the etcd election's roles become the bot's leadership events.
final class BotEtcdConfigurationTests: XCTestCase {
    let base = [
        "ZULIP_SITE": "https://chat.example.com", "ZULIP_EMAIL": "bot@example.com", "ZULIP_API_KEY": "key",
        "GATEWAY_URLS": "http://127.0.0.1:1", "GATEWAY_TOKEN": "token", "BOT_STATE_DIR": "/tmp",
    ]

    func load(_ extra: [String: String]) throws -> BotConfiguration {
        try BotConfiguration.load(environment: Environment(base.merging(extra) { $1 }), zuliprcPath: nil)
    }

    func problems(_ extra: [String: String]) -> [String] {
        do {
            _ = try load(extra)
            return []
        } catch {
            return (error as? ConfigError)?.problems.map(\.description) ?? ["\(error)"]
        }
    }

    func testEtcdSettingsAreReadAndCheckedWithClearErrors() throws {
        XCTAssertNil(try load([:]).etcd, "lockfile by default")
        let etcd = try XCTUnwrap(try load([
            "BOT_ELECTION": "etcd", "BOT_ETCD_ENDPOINTS": "http://10.0.0.5:2379, unix:///run/etcd.sock", "BOT_ETCD_PREFIX": "/bots/a",
            "BOT_ETCD_LEASE_SECONDS": "7",
        ]).etcd)
        XCTAssertEqual(etcd.client.endpoints.map(\.text), ["http://10.0.0.5:2379", "unix:///run/etcd.sock"])
        XCTAssertEqual(etcd.keyspace.leader, "/bots/a/leader")
        XCTAssertEqual(etcd.leaseSeconds, 7)
        XCTAssertEqual(try etcd.election(identity: "host pid 1").machine.leaseSeconds, 7)

        let missing = problems(["BOT_ELECTION": "etcd"])
        XCTAssertEqual(missing.count, 1)
        XCTAssertTrue(missing[0].contains("BOT_ETCD_ENDPOINTS") && missing[0].contains("not set"), missing[0])
        let bad = problems(["BOT_ELECTION": "etcd", "BOT_ETCD_ENDPOINTS": "ftp://x", "BOT_ETCD_CERT_FILE": "/nonexistent/cert.pem"])
        XCTAssertTrue(bad.contains { $0.contains("BOT_ETCD_ENDPOINTS") && $0.contains("unknown scheme") }, "\(bad)")
        XCTAssertTrue(bad.contains { $0.contains("BOT_ETCD_CERT_FILE") && $0.contains("needs its key") }, "\(bad)")
        XCTAssertTrue(bad.contains { $0.contains("BOT_ETCD_CERT_FILE") && $0.contains("cannot read") }, "\(bad)")
        XCTAssertTrue(problems(["BOT_ELECTION": "consul"]).contains { $0.contains("BOT_ELECTION") }, "an unknown election is refused")
        XCTAssertTrue(problems(["BOT_ELECTION": "etcd", "BOT_ETCD_ENDPOINTS": "http://a:1", "BOT_ETCD_LEASE_SECONDS": "1"])
            .contains { $0.contains("BOT_ETCD_LEASE_SECONDS") }, "below etcd's 2 s minimum")
        let stray = problems(["BOT_ETCD_ENDPOINTS": "http://10.0.0.5:2379"])
        XCTAssertEqual(stray.count, 1)
        XCTAssertTrue(stray[0].contains("BOT_ELECTION is not etcd"), "\(stray)")
    }

    func testEtcdRolesBecomeLeadershipEventsOnce() {
        var token: Int64? = nil
        XCTAssertNil(EtcdLeaderElection.event(for: .candidate, elected: &token), "not leading yet: nothing lost")
        XCTAssertNil(EtcdLeaderElection.event(for: .standby, elected: &token))
        XCTAssertEqual(EtcdLeaderElection.event(for: .leader(token: 42), elected: &token), .elected(token: 42))
        XCTAssertEqual(EtcdLeaderElection.event(for: .fenced(token: 42), elected: &token), .fenceDeadlinePassed)
        XCTAssertNil(EtcdLeaderElection.event(for: .leader(token: 42), elected: &token), "back from fenced: the bot stopped already")
        guard case .lost = EtcdLeaderElection.event(for: .candidate, elected: &token) else { return XCTFail("a lost lease while leading") }
        XCTAssertNil(EtcdLeaderElection.event(for: .stopped, elected: &token))
    }
}
