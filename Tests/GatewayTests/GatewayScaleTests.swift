import Foundation
import TestSupport
import XCTest
@testable import Gateway
@testable import Platform
@testable import Crypto
@testable import HTTPServer

/// Issue 11: a gateway with many labels. The seeds-file cap says why it exists and how to go
/// past it; per-label `/metrics` series are on by default only for a few labels; large files
/// load to the same store (and fingerprint) the line-by-line reading always gave. No timings:
/// speed is `scripts/bench --scale`'s business.
final class GatewayScaleTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    override func setUp() { tmp = TemporaryDirectory(prefix: "scale") }
    override func tearDown() { tmp = nil }

    static let token = "scale-token-7Hq2Xv9Lm4Rt8Kw3Zp5N"

    /// `count` labels `label-00000`... with random 160-bit seeds, as a mode-0600 seeds file.
    func seedsFile(_ count: Int, name: String = "seeds") -> String {
        var text = "# generated\n"
        for i in 0..<count {
            text += "label-\(String(format: "%05d", i)) = \(Base32Text.random())\n"
        }
        let path = tmp.write(name, text)
        chmod(path, 0o600)
        return path
    }

    func problems(_ env: [String: String]) -> [ConfigProblem] {
        do {
            _ = try SeedLoader(environment: Environment(env)).load()
            XCTFail("the seeds were accepted")
        } catch {
            return error.problems
        }
        return []
    }

    func testAnOversizedSeedsFileSaysWhyAndHowToGoPast() throws {
        let path = seedsFile(200)  // about 9.5 kB
        let p = problems(["GATEWAY_SEEDS_FILE": path, "GATEWAY_SEEDS_FILE_MAX_BYTES": "4096"])
        XCTAssertEqual(p.count, 1, "\(p)")
        let message = p.first?.description ?? ""
        XCTAssertTrue(message.hasPrefix("GATEWAY_SEEDS_FILE: \(path) is larger than 4096 bytes, the cap on a seeds file"), message)
        XCTAssertTrue(message.contains("runaway or wrong file"), "why the cap exists: \(message)")
        XCTAssertTrue(message.contains("raise GATEWAY_SEEDS_FILE_MAX_BYTES"), "how to go past it: \(message)")
        let loaded = try SeedLoader(environment: Environment(["GATEWAY_SEEDS_FILE": path, "GATEWAY_SEEDS_FILE_MAX_BYTES": "16384"])).load()
        XCTAssertEqual(loaded.store.count, 200)
        XCTAssertEqual(problems(["GATEWAY_SEEDS_FILE": path, "GATEWAY_SEEDS_FILE_MAX_BYTES": "12"]).map(\.source),
            ["GATEWAY_SEEDS_FILE_MAX_BYTES"], "a cap below 4096 is a mistake")
    }

    func testThirtyThousandLabelsLoadWithTheFingerprintOfTheirLines() throws {
        let path = seedsFile(30_000)
        let store = try SeedLoader(environment: Environment(["GATEWAY_SEEDS_FILE": path])).load().store
        XCTAssertEqual(store.count, 30_000)
        XCTAssertEqual(store.entry(for: "label-29999")?.parameters, .defaults)
        // The fingerprint as documented: sha256 over the sorted "label algorithm digits period" lines.
        let lines = (0..<30_000).map { "label-\(String(format: "%05d", $0)) SHA1 6 30\n" }.sorted().joined()
        XCTAssertEqual(store.fingerprint, "sha256:" + Crypto.hex(Crypto.sha256(Array(lines.utf8))))
    }

    func testASeedsFileWithCRLFLineEndsReadsAsItsLines() throws {
        let path = tmp.write("crlf", "# saved on Windows\r\ndemo = JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\r\nother = GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\r\n")
        chmod(path, 0o600)
        let store = try SeedLoader(environment: Environment(["GATEWAY_SEEDS_FILE": path])).load().store
        XCTAssertEqual(store.labels, ["demo", "other"])
        XCTAssertEqual(store.entry(for: "other")?.source, .file(path: path, line: 3))
    }

    func issuedSeries(labels: Int, env extra: [String: String], scrape: String?) throws -> Int {
        var env = ["GATEWAY_SEEDS_FILE": seedsFile(labels, name: "seeds-\(labels)"), "GATEWAY_TOKENS": "bot:\(Self.token):*"]
        for (k, v) in extra { env[k] = v }
        let e = Environment(env)
        let config = try GatewayConfiguration.load(environment: e, listenOverride: nil)
        let snap = try GatewaySnapshot.load(environment: e, generation: 1, loadedAt: 0)
        let sink = LogSink.memory()
        let app = GatewayApp(configuration: config, snapshot: snap, logger: Logger(component: "gateway", sink: sink), audit: AuditLog(sink: sink, key: nil))
        var headers: [(String, String)] = []
        if let scrape { headers.append(("Authorization", "Bearer \(scrape)")) }
        let response = app.handle(HTTPRequest(path: "/metrics", query: nil, headers: HTTPHeaders(headers), remoteAddress: "127.0.0.1"))
        XCTAssertEqual(response.status, 200)
        return String(decoding: response.body, as: UTF8.self).split(separator: "\n").filter { $0.hasPrefix("gateway_codes_issued_total") }.count
    }

    func testPerLabelSeriesByDefaultOnlyBehindATokenAndForAThousandLabelsOrFewer() throws {
        let token = ["GATEWAY_METRICS_TOKEN": "scrape-me-please"]
        XCTAssertEqual(try issuedSeries(labels: 1_000, env: token, scrape: "scrape-me-please"), 1_000)
        XCTAssertEqual(try issuedSeries(labels: 1_001, env: token, scrape: "scrape-me-please"), 1, "above 1,000 labels: one total")
        XCTAssertEqual(try issuedSeries(labels: 1_001, env: token.merging(["GATEWAY_METRICS_PER_LABEL": "1"]) { $1 }, scrape: "scrape-me-please"),
            1_001, "unless asked for")
        XCTAssertEqual(try issuedSeries(labels: 10, env: [:], scrape: nil), 1, "open /metrics names no label")
    }
}

/// Random base32 seeds for generated files.
enum Base32Text {
    static func random() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        return String(Crypto.randomBytes(32).map { alphabet[Int($0 & 31)] })
    }
}

/// A reload frees the configuration it replaces (every seed of it), off the request path.
final class GatewayRetireTests: XCTestCase {
    func testAReplacedConfigurationIsFreed() throws {
        let env = Environment(["TOTP_SEED_DEMO": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "GATEWAY_TOKENS": "bot:\(GatewayScaleTests.token):*"])
        let config = try GatewayConfiguration.load(environment: env, listenOverride: nil)
        let sink = LogSink.memory()
        weak var first: GatewaySnapshot?
        weak var firstEntry: SeedEntry?
        let app: GatewayApp = try {
            let snap = try GatewaySnapshot.load(environment: env, generation: 1, loadedAt: 0)
            first = snap
            firstEntry = snap.seeds.entry(for: "demo")
            return GatewayApp(configuration: config, snapshot: snap, logger: Logger(component: "gateway", sink: sink), audit: AuditLog(sink: sink, key: nil))
        }()
        let request = HTTPRequest(path: "/code", query: "label=demo", headers: HTTPHeaders([("Authorization", "Bearer \(GatewayScaleTests.token)")]),
            remoteAddress: "127.0.0.1")
        XCTAssertEqual(app.handle(request).status, 200)
        XCTAssertNotNil(first)
        app.activate(try GatewaySnapshot.load(environment: env, generation: 2, loadedAt: 1))
        XCTAssertEqual(app.handle(request).status, 200)
        // Freed on a utility queue about a second after the swap; wait for it (bounded).
        let deadline = Date().addingTimeInterval(10)
        while (first != nil || firstEntry != nil) && Date() < deadline { usleep(20_000) }
        XCTAssertNil(first, "the replaced snapshot is freed")
        XCTAssertNil(firstEntry, "and its seeds")
    }
}
