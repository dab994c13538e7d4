import Foundation
import TestSupport
import XCTest
@testable import Gateway
@testable import Platform
@testable import Crypto
@testable import TOTP

/// systemd credentials the gateway reads itself (`tokens`, `audit-key`): a missing one is
/// absent, any other read failure is a configuration error naming the credential.
final class GatewayCredentialTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    var dir: String { tmp.path }

    override func setUp() { tmp = TemporaryDirectory(prefix: "creds") }
    override func tearDown() { tmp = nil }

    var env: Environment { Environment(["CREDENTIALS_DIRECTORY": dir]) }

    func configProblems(_ body: () throws -> Void) -> [ConfigProblem] {
        do { try body() } catch let e as ConfigError { return e.problems } catch { XCTFail("\(error)") }
        return []
    }

    func testMissingCredentialsAreAbsent() throws {
        XCTAssertTrue(try TokenSet.load(from: env).isEmpty)
        XCTAssertNil(try GatewayConfiguration.load(environment: env, listenOverride: nil).auditKey)
    }

    func testReadableCredentialsAreUsed() throws {
        try "bot:bot-value-8Jd3Wq7Zx2Np5Rk9:*\n".write(toFile: dir + "/tokens", atomically: true, encoding: .utf8)
        try "00112233445566778899aabbccddeeff\n".write(toFile: dir + "/audit-key", atomically: true, encoding: .utf8)
        XCTAssertEqual(try TokenSet.load(from: env).tokens.map(\.name), ["bot"])
        XCTAssertEqual(try GatewayConfiguration.load(environment: env, listenOverride: nil).auditKey,
            Array("00112233445566778899aabbccddeeff".utf8))
    }

    func testUnreadableTokensCredentialIsAnError() throws {
        try FileManager.default.createDirectory(atPath: dir + "/tokens", withIntermediateDirectories: false)
        let p = configProblems { _ = try TokenSet.load(from: env) }
        XCTAssertEqual(p.map(\.source), ["credential tokens (\(dir))"])
        XCTAssertTrue(p.first?.message.contains("is a directory") == true, "\(p)")
        try FileManager.default.removeItem(atPath: dir + "/tokens")
        FileManager.default.createFile(atPath: dir + "/tokens", contents: Data([0x62, 0xFF, 0xFE]))
        XCTAssertTrue(configProblems { _ = try TokenSet.load(from: env) }.first?.message.contains("not valid UTF-8") == true)
    }

    func testUnreadableAuditKeyCredentialIsAnError() throws {
        try FileManager.default.createDirectory(atPath: dir + "/audit-key", withIntermediateDirectories: false)
        let p = configProblems { _ = try GatewayConfiguration.load(environment: env, listenOverride: nil) }
        XCTAssertEqual(p.map(\.source), ["credential audit-key (\(dir))"])
        XCTAssertTrue(p.first?.message.contains("is a directory") == true, "\(p)")
        // The same rules as GATEWAY_AUDIT_KEY_FILE: a short key is refused, not used.
        try FileManager.default.removeItem(atPath: dir + "/audit-key")
        try "short\n".write(toFile: dir + "/audit-key", atomically: true, encoding: .utf8)
        XCTAssertTrue(configProblems { _ = try GatewayConfiguration.load(environment: env, listenOverride: nil) }
            .first?.message.contains("at least 16 bytes") == true)
    }

    func testFileIOReportsNotFoundOnlyForENOENT() {
        XCTAssertThrowsError(try FileIO.read(dir + "/nothing")) { XCTAssertTrue(($0 as! FileIO.Failure).isNotFound) }
        XCTAssertThrowsError(try FileIO.read(dir)) { XCTAssertFalse(($0 as! FileIO.Failure).isNotFound) }
        XCTAssertThrowsError(try FileIO.read(dir + "/nothing/below")) { XCTAssertTrue(($0 as! FileIO.Failure).isNotFound) }
    }
}
