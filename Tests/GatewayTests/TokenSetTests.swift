import Foundation
import TestSupport
import XCTest
@testable import Gateway
@testable import Platform
@testable import Crypto

/// Issue 11: the token table at scale. A request finds its token by the digest of its secret
/// (O(1) in the number of tokens); duplicate secrets and names are found at load in one pass and
/// reported with both entries' sources, never the secret.
final class TokenSetTests: XCTestCase {
    func secret(_ i: Int) -> String { "\(i)-" + Crypto.hex(Crypto.randomBytes(24)) }

    func loadProblems(_ env: [String: String]) -> [ConfigProblem] {
        do {
            _ = try TokenSet.load(from: Environment(env))
            XCTFail("the tokens were accepted")
        } catch {
            return error.problems
        }
        return []
    }

    func testThreeThousandRestrictedTokensEachFindsItself() throws {
        let secrets = (0..<3_000).map(secret)
        let entries = secrets.enumerated().map { i, s in "t\(i):\(s):l\(i),l\(i + 1),l\(i + 2)" }
        let tokens = try TokenSet.load(from: Environment(["GATEWAY_TOKENS": entries.joined(separator: "\n")]))
        XCTAssertEqual(tokens.tokens.count, 3_000)
        for (i, s) in secrets.enumerated() {
            let found = tokens.authenticate(bearer: Array(s.utf8))
            XCTAssertEqual(found?.name, "t\(i)")
            XCTAssertEqual(found?.labels, ["l\(i)", "l\(i + 1)", "l\(i + 2)"])
        }
        XCTAssertNil(tokens.authenticate(bearer: Array(secret(3_000).utf8)), "an unknown secret")
        XCTAssertNil(tokens.authenticate(bearer: Array(secrets[7].dropLast().utf8)), "a secret cut short")
        XCTAssertNil(tokens.authenticate(bearer: Array((secrets[7] + "0").utf8)), "a secret with more")
        XCTAssertNil(tokens.authenticate(bearer: []), "nothing")
        XCTAssertNil(tokens.authenticate(bearer: tokens.tokens[7].secretHash), "the stored digest is not the secret")
    }

    func testTokensGivenAsDigestsAreFoundByTheirSecret() throws {
        let s = secret(1)
        let hex = Crypto.hex(Crypto.sha256(Array(s.utf8)))
        let tokens = try TokenSet.load(from: Environment(["GATEWAY_TOKENS": "hashed:sha256:\(hex):*;plain:\(secret(2)):a"]))
        XCTAssertEqual(tokens.authenticate(bearer: Array(s.utf8))?.name, "hashed")
    }

    func testDuplicateSecretAmongThousandsNamesBothEntriesNeverTheSecret() throws {
        var secrets = (0..<3_000).map(secret)
        secrets[2_999] = secrets[1_234]
        let entries = secrets.enumerated().map { i, s in "t\(i):\(s):*" }
        let problems = loadProblems(["GATEWAY_TOKENS": entries.joined(separator: ";")])
        XCTAssertEqual(problems.count, 1, "\(problems)")
        let p = try XCTUnwrap(problems.first)
        XCTAssertEqual(p.source, "GATEWAY_TOKENS entry 3000")
        XCTAssertTrue(p.message.contains("tokens 't1234' (GATEWAY_TOKENS entry 1235) and 't2999' (GATEWAY_TOKENS entry 3000) have the same secret"),
            p.message)
        XCTAssertFalse(p.description.contains(secrets[1_234]), "the secret is never in an error")
        XCTAssertFalse(p.description.contains(Crypto.hex(Crypto.sha256(Array(secrets[1_234].utf8)))), "nor its digest")
    }

    func testDuplicateSecretAcrossSourcesNamesTheVariableAndTheFile() throws {
        let tmp = TemporaryDirectory(prefix: "tokens")
        let dir = tmp.path
        let shared = secret(9)
        XCTAssertEqual(chmod(tmp.write("tokens", "# clients\nfile-a:\(secret(1)):*\nfile-b:\(shared):*\n"), 0o600), 0)
        let problems = loadProblems(["GATEWAY_TOKENS": "env-a:\(secret(3)):*", "API_KEY": shared, "CREDENTIALS_DIRECTORY": dir])
        let messages = problems.map(\.description)
        XCTAssertEqual(problems.count, 1, "\(messages)")
        XCTAssertTrue(messages[0].contains("'file-b' (credential tokens (\(dir)) entry 2) and 'api-key' (API_KEY) have the same secret"), messages[0])
        XCTAssertFalse(messages[0].contains(shared))
    }

    func testDuplicateNameNamesBothEntries() {
        let problems = loadProblems(["GATEWAY_TOKENS": "bot:\(secret(1)):*;other:\(secret(2)):*;bot:\(secret(3)):a"])
        XCTAssertEqual(problems.map(\.source), ["GATEWAY_TOKENS entry 3"])
        XCTAssertTrue(problems.first?.message.contains("token name 'bot' is used twice (first in GATEWAY_TOKENS entry 1)") == true,
            problems.first?.message ?? "")
    }
}
