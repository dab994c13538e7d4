import Foundation
import Crypto
import TOTP
import TestSupport
import XCTest

/// The real `totp-gateway` given broken seeds, labels, otpauth URIs and key files: whatever it
/// prints on stderr (`--check-config`'s list, the `config_error` and `reload_failed` JSON lines),
/// no 8 consecutive characters of any seed or key appear in it, in any case.
final class GatewaySecretLeakTests: XCTestCase {
    /// Fresh random seeds per run, so a leak cannot hide behind a fixed test value.
    let r1 = Base32.encode(Crypto.randomBytes(20), padding: false)
    let r2 = Base32.encode(Crypto.randomBytes(20), padding: false)
    var secrets: [String] { [r1, r2, GatewayHarness.seed, GatewayHarness.rfcSeed] }

    func assertNoLeak(_ text: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        if let piece = SecretScan.leakedPiece(of: secrets, in: text) {
            XCTFail("\(what): seed piece '\(piece)' leaked:\n\(text)", file: file, line: line)
        }
    }

    /// Runs `--check-config` and a real start with `environment`; both must refuse it (exit 2),
    /// name every source in `expect`, and leak nothing.
    func assertRefusedWithoutLeak(_ environment: [String: String], expect: [String], file: StaticString = #filePath, line: UInt = #line) {
        let check = TestProcess.run(GatewayHarness.binary, ["--check-config"], environment: environment)
        let serve = TestProcess.run(GatewayHarness.binary, ["--listen", "127.0.0.1:0"], environment: environment, timeout: 10)
        for (name, run) in [("--check-config", check), ("serve", serve)] {
            XCTAssertEqual(run.status, 2, "\(name): \(run.stderr)", file: file, line: line)
            for source in expect {
                XCTAssertTrue(run.stderr.contains(source), "\(name) does not name \(source):\n\(run.stderr)", file: file, line: line)
            }
            assertNoLeak(run.stdout + run.stderr, name, file: file, line: line)
        }
        XCTAssertTrue(serve.stderr.contains("configuration refused"), serve.stderr, file: file, line: line)
    }

    func testBadSeedsLabelsAndURIsAtStartup() throws {
        let dir = GatewayHarness.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let seeds = dir + "/seeds"
        try """
            certus \(r1)PX==
            \(r2)\(r1) = \(r2)
            padded = \(r1.prefix(8))=\(r1.dropFirst(8))
            no equals \(r2)
            ok = \(GatewayHarness.seed)
            """.write(toFile: seeds, atomically: true, encoding: .utf8)
        let base = ["GATEWAY_TOKENS": "t:\(GatewayHarness.botToken):*"]
        // Seed values that look like options, whitespace, wrong variables.
        assertRefusedWithoutLeak(base.merging([
            "TOTP_SEED_A": "\(r1.prefix(8))=\(r1.dropFirst(8))",
            "TOTP_SEED_B": r1 + "=x",
            "TOTP_SEED_C": r1.lowercased() + "=" + r2.lowercased(),
            "TOTP_SEED_D": "\(r1) \(r2)=x check=123456@59",
            "TOTP_SEED_E": "   \(r1.prefix(4))!\(r1.dropFirst(4))",
            "TOTP_SEED_F": "\(r1) check=\(r2)",
            "TOTP_SEED_BACKUP_FILE": r2,
            "GATEWAY_SEEDS_FILE": seeds,
        ]) { $1 }, expect: ["TOTP_SEED_A", "TOTP_SEED_B", "TOTP_SEED_C", "TOTP_SEED_D", "TOTP_SEED_E", "TOTP_SEED_F",
            "TOTP_SEED_BACKUP_FILE", "\(seeds):1", "\(seeds):2", "\(seeds):3", "\(seeds):4"])
        // otpauth URIs mangled so that the secret sits where a type, name or value should be.
        assertRefusedWithoutLeak(base.merging([
            "TOTP_SEED_U1": "otpauth://totp/x?\(r1)",
            "TOTP_SEED_U2": "otpauth://totp/x?issuer=A&secret:\(r1)",
            "TOTP_SEED_U3": "otpauth://\(r1)/x?secret=\(r2)",
            "TOTP_SEED_U4": "otpauth://totp/x?secret=\(r2)&algorithm=\(r1)",
            "TOTP_SEED_U5": "otpauth://totp/x?secret=\(r2)&digits=\(r1)",
            "TOTP_SEED_U6": "otpauth://totp/x?secret=\(r2)&period=\(r1)",
            "TOTP_SEED_U7": "otpauth://totp/\(r1):x?secret=\(r2)&issuer=B",
            "TOTP_SEED_U8": "otpauth://totp/ACME Co:alice?secret=\(r1)",
            "TOTP_SEED_U9": "otpauth://totp/?secret=\(r1)",
            "TOTP_SEED_U10": "otpauth://totp/x?secret=\(r1)&digits=+6",
        ]) { $1 }, expect: (1...10).map { "TOTP_SEED_U\($0)" })
        // The original LABELS format with a wrong separator, and secrets in path variables.
        assertRefusedWithoutLeak(base.merging(["LABELS": "certus \(r1):x, \(r2)é:\(r1), ok:\(r2)=x"]) { $1 },
            expect: ["LABELS entry 1", "LABELS entry 2", "LABELS entry 3"])
        // The server configuration is refused before seeds are loaded, so this one stands alone.
        assertRefusedWithoutLeak(base.merging(["GATEWAY_AUDIT_KEY_FILE": r1]) { $1 }, expect: ["GATEWAY_AUDIT_KEY_FILE"])
        assertRefusedWithoutLeak(base.merging(["LABELS_FILE": "certus:\(r1)", "GATEWAY_SEEDS_FILE": "certus = \(r2)"]) { $1 },
            expect: ["LABELS_FILE", "GATEWAY_SEEDS_FILE"])
    }

    /// A key pasted into GATEWAY_SEEDS_KEY_FILE is not echoed; a passphrase is not taken as a key;
    /// errors name the variable or the --key-file flag.
    func testKeyFileProblemsNameTheirSourceNotTheKey() throws {
        let dir = GatewayHarness.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bin = GatewayHarness.binary
        let key = Crypto.hex(Crypto.randomBytes(32))
        try "\(key)\n".write(toFile: dir + "/key", atomically: true, encoding: .utf8)
        try "correct horse battery staple 42!".write(toFile: dir + "/passphrase", atomically: true, encoding: .utf8)
        chmod(dir + "/key", 0o600)
        chmod(dir + "/passphrase", 0o600)
        try "rfc = \(GatewayHarness.rfcSeed)\n".write(toFile: dir + "/plain", atomically: true, encoding: .utf8)
        let weak = TestProcess.run(bin, ["seal-seeds", dir + "/plain", dir + "/out", "--key-file", dir + "/passphrase"])
        XCTAssertEqual(weak.status, 2)
        XCTAssertTrue(weak.stderr.contains("--key-file: \(dir)/passphrase holds 32 characters of text, not a key"), weak.stderr)
        XCTAssertTrue(weak.stderr.contains("openssl rand -hex 32"), weak.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))
        XCTAssertEqual(TestProcess.run(bin, ["seal-seeds", dir + "/plain", dir + "/sealed", "--key-file", dir + "/key"]).status, 0)
        let pasted = TestProcess.run(bin, ["--check-config"], environment: ["GATEWAY_SEEDS_FILE": dir + "/sealed", "GATEWAY_SEEDS_KEY_FILE": key])
        XCTAssertEqual(pasted.status, 2)
        XCTAssertTrue(pasted.stderr.contains("GATEWAY_SEEDS_KEY_FILE does not name a readable file"), pasted.stderr)
        XCTAssertNil(SecretScan.leakedPiece(of: [key] + secrets, in: pasted.stderr + pasted.stdout), pasted.stderr)
    }

    func testFailedSighupReloadLogsNoSeed() throws {
        let dir = GatewayHarness.makeDirectory()
        let seeds = dir + "/seeds"
        let single = dir + "/single"
        try "alpha = \(GatewayHarness.seed)\n".write(toFile: seeds, atomically: true, encoding: .utf8)
        try "\(GatewayHarness.rfcSeed)\n".write(toFile: single, atomically: true, encoding: .utf8)
        let gw = try GatewayHarness(environment: [
            "GATEWAY_SEEDS_FILE": seeds, "TOTP_SEED_SINGLE_FILE": single,
            "GATEWAY_TOKENS": "bot:\(GatewayHarness.botToken):*", "GATEWAY_DRAIN_SECONDS": "0",
        ], dir: dir)
        XCTAssertEqual(gw.get("/code?label=alpha")?.status, 200)
        try """
            alpha = \(GatewayHarness.seed)
            certus \(r1)PX==
            beta = \(r1)=x
            gamma = otpauth://totp/x?\(r2)
            delta = \(r1) \(r2)=y
            eps = otpauth://totp/ACME Co:a?secret=\(r1)
            zeta =    \(r2.prefix(3))!\(r2.dropFirst(3))
            """.write(toFile: seeds, atomically: true, encoding: .utf8)
        try "\(r2.prefix(8))=\(r2.dropFirst(8))\n".write(toFile: single, atomically: true, encoding: .utf8)
        gw.process.signal(SIGHUP)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) {
            gw.process.logLines.filter { $0["event"] as? String == "reload_failed" }.count >= 7
        }, gw.process.stderr)
        XCTAssertEqual(gw.get("/healthz")?.json["generation"] as? Int, 1, "the old configuration keeps serving")
        let failed = gw.process.logLines.filter { $0["event"] as? String == "reload_failed" }.compactMap { $0["source"] as? String }
        XCTAssertEqual(Set(failed), Set((2...7).map { "\(seeds):\($0)" } + ["environment variable TOTP_SEED_SINGLE_FILE (\(single))"]), "\(failed)")
        gw.process.signal(SIGTERM)
        gw.process.waitForExit(timeout: 10)
        assertNoLeak(gw.process.stderr + gw.process.stdout, "reload")
    }
}
