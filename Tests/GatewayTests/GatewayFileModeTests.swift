import Foundation
import TestSupport
import XCTest
@testable import Platform
@testable import Crypto
import TextSupport

/// Issue 9 item 9: key material readable by group or others is refused with the chmod that
/// fixes it (as OpenSSH refuses such a private key); a plaintext seeds file readable by others
/// is warned about, in the log, in `--check-config` and in `/metrics`.
final class GatewayFileModeTests: XCTestCase {
    private func write(_ dir: String, _ name: String, _ text: String, mode: mode_t) -> String {
        let path = dir + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        chmod(path, mode)
        return path
    }

    func testKeyMaterialReadableByOthersIsRefusedWithTheChmod() throws {
        let dir = GatewayHarness.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bin = GatewayHarness.binary
        let plain = write(dir, "plain", "rfc = \(GatewayHarness.rfcSeed)\n", mode: 0o600)
        let keyText = Crypto.hex(Crypto.randomBytes(32)) + "\n"
        let sealKey = write(dir, "seeds.key", keyText, mode: 0o600)
        XCTAssertEqual(TestProcess.run(bin, ["seal-seeds", plain, dir + "/sealed", "--key-file", sealKey]).status, 0)
        let base = ["TOTP_SEED_A": GatewayHarness.seed]
        let cases: [(variable: String, env: (String) -> [String: String], text: String)] = [
            ("GATEWAY_SEEDS_KEY_FILE", { ["GATEWAY_SEEDS_FILE": dir + "/sealed", "GATEWAY_SEEDS_KEY_FILE": $0] }, keyText),
            ("GATEWAY_AUDIT_KEY_FILE", { ["GATEWAY_AUDIT_KEY_FILE": $0] }, "00112233445566778899aabbccddeeff\n"),
            ("GATEWAY_TOKENS_FILE", { ["GATEWAY_TOKENS_FILE": $0] }, "bot:\(GatewayHarness.botToken):*\n"),
            ("API_KEY_FILE", { ["API_KEY_FILE": $0] }, "api-key-Wq3Zr8Nx5Lt2Vm9Kp7\n"),
        ]
        for (i, c) in cases.enumerated() {
            for mode: mode_t in [0o644, 0o640, 0o604] {
                let path = write(dir, "secret-\(i)-\(String(mode, radix: 8))", c.text, mode: mode)
                var env = base
                for (k, v) in c.env(path) { env[k] = v }
                if c.variable == "GATEWAY_SEEDS_KEY_FILE" { env["TOTP_SEED_A"] = nil }
                let r = TestProcess.run(bin, ["--check-config"], environment: env)
                XCTAssertEqual(r.status, 2, "\(c.variable) at \(String(mode, radix: 8)): \(r.stdout)")
                XCTAssertTrue(r.stderr.contains("\(c.variable): \(path) holds"), r.stderr)
                XCTAssertTrue(r.stderr.contains("chmod 600 \(path)"), r.stderr)
                XCTAssertNil(SecretScan.leakedPiece(of: [c.text.trimmingCharacters(in: .newlines)], in: r.stderr + r.stdout), r.stderr)
                chmod(path, 0o600)
                let ok = TestProcess.run(bin, ["--check-config"], environment: env)
                XCTAssertEqual(ok.status, 0, "\(c.variable) at 600: \(ok.stderr)")
            }
        }
    }

    func testPlaintextSeedsReadableByOthersAreWarnedAbout() throws {
        let dir = GatewayHarness.makeDirectory()
        let seeds = write(dir, "seeds", "alpha = \(GatewayHarness.seed)\n", mode: 0o644)
        let single = write(dir, "single", GatewayHarness.rfcSeed, mode: 0o604)
        let env = ["GATEWAY_SEEDS_FILE": seeds, "TOTP_SEED_SINGLE_FILE": single, "GATEWAY_TOKENS": "bot:\(GatewayHarness.botToken):*"]
        let check = TestProcess.run(GatewayHarness.binary, ["--check-config"], environment: env)
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stderr.contains("warning: GATEWAY_SEEDS_FILE: \(seeds) holds plaintext seeds and is readable by group or others (mode 0644); run: chmod 600 \(seeds)"), check.stderr)
        XCTAssertTrue(check.stderr.contains("warning: TOTP_SEED_SINGLE_FILE: \(single) holds plaintext seeds"), check.stderr)
        let gw = try GatewayHarness(environment: env, dir: dir)
        XCTAssertEqual(gw.process.logLines.filter { $0["event"] as? String == "insecure_file_mode" }.count, 2)
        let metrics = (gw.get("/metrics")?.bodyText ?? "")
        XCTAssertTrue(metrics.contains("gateway_insecure_files 2\n"), metrics)
        XCTAssertEqual(gw.get("/code?label=alpha")?.status, 200, "a warning, not a refusal")
    }

    func testContainerSecretsAreWarnedAboutNotRefused() {
        // Docker and podman mount secrets under /run/secrets with a mode the runtime sets (often 0444).
        XCTAssertEqual(FilePermissions.keyFinding(path: "/run/secrets/gateway_tokens", mode: 0o444, what: "client tokens").map { if case .warn = $0 { return true } else { return false } }, true)
        XCTAssertEqual(FilePermissions.keyFinding(path: "/etc/totp/tokens", mode: 0o444, what: "client tokens").map { if case .refuse = $0 { return true } else { return false } }, true)
        XCTAssertNil(FilePermissions.keyFinding(path: "/etc/totp/tokens", mode: 0o400, what: "client tokens"))
        XCTAssertNil(FilePermissions.seedsFinding(path: "/etc/totp/seeds", mode: 0o600))
    }
}
