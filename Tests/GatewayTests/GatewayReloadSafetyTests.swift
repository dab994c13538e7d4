import Foundation
import TestSupport
import XCTest

/// Issue 9 items 2 and 11: a reload never serves a seeds file caught half written, never blocks
/// on something that is not a regular file, and never keeps a stop signal from working.
final class GatewayReloadSafetyTests: XCTestCase {
    /// Four 160-bit seeds (32 base32 characters each), as in the attack that found item 2.
    static let seeds = [
        ("alpha", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"), ("bravo", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
        ("charlie", "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"), ("delta", "ORSXG5DJNZTWK4TSN5XWY3TJMVZXG2LT"),
    ]

    private func startWithSeedsFile(_ dir: String) throws -> (GatewayHarness, String) {
        let path = dir + "/seeds"
        let text = Self.seeds.map { "\($0.0) = \($0.1)\n" }.joined()
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        let gw = try GatewayHarness(environment: [
            "GATEWAY_SEEDS_FILE": path, "GATEWAY_TOKENS": "bot:\(GatewayHarness.botToken):*", "GATEWAY_DRAIN_SECONDS": "1",
            "GATEWAY_EVENT_LOOPS": "1",
        ], dir: dir)
        return (gw, path)
    }

    /// The served code of `label` equals oathtool's for `seed` in the step the answer names.
    private func assertServes(_ gw: GatewayHarness, _ label: String, seed: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try XCTUnwrap(gw.get("/code?label=\(label)"), file: file, line: line)
        XCTAssertEqual(r.status, 200, file: file, line: line)
        let expires = try XCTUnwrap(r.json["expires_at"] as? Int, file: file, line: line)
        XCTAssertEqual(r.json["code"] as? String, GatewayHarness.oathtool(["--totp", "-b", "--now=@\(expires - 30)", seed]), file: file, line: line)
    }

    func testSeedsFileCutInsideASeedIsNotLoaded() throws {
        let dir = GatewayHarness.makeDirectory()
        let (gw, path) = try startWithSeedsFile(dir)
        try assertServes(gw, "alpha", seed: Self.seeds[0].1)
        // Rewritten in place and caught after 26 of alpha's 32 characters: 130 bits, a seed
        // that parses and is not even weak, but not alpha's.
        let fd = open(path, O_WRONLY | O_TRUNC)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let cut = Array("alpha = \(Self.seeds[0].1.prefix(26))".utf8)
        XCTAssertEqual(cut.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }, cut.count)
        gw.process.signal(SIGHUP)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { gw.process.logLines.contains { $0["event"] as? String == "reload_failed" } },
            gw.process.stderr)
        let failed = gw.process.logLines.first { $0["event"] as? String == "reload_failed" }
        XCTAssertTrue((failed?["message"] as? String ?? "").contains("does not end with a newline"), "\(failed ?? [:])")
        // The old configuration keeps serving, with the right codes.
        XCTAssertEqual(gw.get("/healthz")?.json["labels"] as? Int, 4)
        XCTAssertEqual(gw.get("/healthz")?.json["generation"] as? Int, 1)
        try assertServes(gw, "alpha", seed: Self.seeds[0].1)
        try assertServes(gw, "delta", seed: Self.seeds[3].1)
        // Completed, the same file loads.
        let rest = Array("\(Self.seeds[0].1.dropFirst(26))\n".utf8)
        XCTAssertEqual(rest.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }, rest.count)
        close(fd)
        gw.process.signal(SIGHUP)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { gw.get("/healthz")?.json["generation"] as? Int == 2 })
        XCTAssertEqual(gw.get("/healthz")?.json["labels"] as? Int, 1)
        try assertServes(gw, "alpha", seed: Self.seeds[0].1)
    }

    func testFIFOAtTheSeedsPathIsRefusedAndSIGTERMStillStops() throws {
        let dir = GatewayHarness.makeDirectory()
        let (gw, path) = try startWithSeedsFile(dir)
        // A FIFO with no writer: open(O_RDONLY) would block for ever.
        XCTAssertEqual(unlink(path), 0)
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        gw.process.signal(SIGHUP)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { gw.process.logLines.contains { $0["event"] as? String == "reload_failed" } },
            "the reload is refused at once: \(gw.process.stderr)")
        let failed = gw.process.logLines.first { $0["event"] as? String == "reload_failed" }
        XCTAssertTrue((failed?["message"] as? String ?? "").contains("not a regular file"), "\(failed ?? [:])")
        try assertServes(gw, "bravo", seed: Self.seeds[1].1)
        gw.process.signal(SIGTERM)
        XCTAssertEqual(gw.process.waitForExit(timeout: 10), 0, "SIGTERM drains and exits: \(gw.process.stderr)")
    }
}
