import Foundation
import TestSupport
import XCTest

/// Issue 12: the gateway's own TLS listener, end to end with the real binary, `curl`, and
/// certificates made by `openssl` at test time: TLS and mutual TLS (the client certificate's CN
/// in the audit line), the files checked by `--check-config` with errors that name the variable
/// and the file and never the key, and the systemd credentials.
final class GatewayTLSTests: XCTestCase {
    private var dir: String!
    private var ca: TestCertificateAuthority!
    private var server: (certificate: String, key: String)!

    override func setUpWithError() throws {
        dir = GatewayHarness.makeDirectory()
        ca = try TestCertificateAuthority(directory: dir)
        server = try ca.issue("gateway", usage: .server)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private var tlsEnvironment: [String: String] {
        ["GATEWAY_TLS_CERT_FILE": server.certificate, "GATEWAY_TLS_KEY_FILE": server.key]
    }

    private func curl(_ port: Int, _ target: String, _ extra: [String] = []) -> (status: Int32, stdout: String, stderr: String) {
        TestProcess.run("/usr/bin/curl", ["-sS", "--max-time", "10", "--cacert", ca.certificateFile] + extra
            + ["https://localhost:\(port)\(target)"], timeout: 15)
    }

    private func checkConfig(_ extra: [String: String]) -> (status: Int32, stdout: String, stderr: String) {
        var env = GatewayHarness.baseEnvironment(dir: dir)
        for (k, v) in extra { env[k] = v }
        return TestProcess.run(GatewayHarness.binary, ["--check-config"], environment: env)
    }

    func testCodesOverMutualTLSAuditTheClientCertificate() throws {
        let bot = try ca.issue("bot", usage: .client, commonName: "totp-bot-1")
        let audit = dir + "/audit.log"
        var extra = tlsEnvironment
        extra["GATEWAY_TLS_CLIENT_CA_FILE"] = ca.certificateFile
        extra["GATEWAY_AUDIT_FILE"] = audit
        let gateway = try GatewayHarness(extra: extra, dir: dir)
        let listening = gateway.process.logLines.first { $0["event"] as? String == "listening" }
        XCTAssertEqual(listening?["tls"] as? String, "cn=totp-test-gateway not_after=\(try notAfter(server.certificate)) client_certificates=required")

        let withCert = ["--cert", bot.certificate, "--key", bot.key]
        let health = curl(gateway.port, "/healthz", withCert)
        XCTAssertEqual(health.status, 0, health.stderr)
        XCTAssertTrue(health.stdout.contains("\"status\":\"ok\""), health.stdout)
        let code = curl(gateway.port, "/code?label=demo", withCert + ["-H", "Authorization: Bearer \(GatewayHarness.botToken)"])
        XCTAssertEqual(code.status, 0, code.stderr)
        XCTAssertTrue(code.stdout.contains("\"code\":\""), code.stdout)
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { ((try? String(contentsOfFile: audit, encoding: .utf8)) ?? "").contains("issued") })
        let line = try String(contentsOfFile: audit, encoding: .utf8)
        XCTAssertTrue(line.contains(#""client_cert":"totp-bot-1""#), line)

        // Without a client certificate, or with one from another CA: no handshake, no code.
        let other = try TestCertificateAuthority(directory: dir, name: "other-ca").issue("stranger", usage: .client)
        for extra in [[], ["--cert", other.certificate, "--key", other.key]] {
            let refused = curl(gateway.port, "/code?label=demo", extra + ["-H", "Authorization: Bearer \(GatewayHarness.botToken)"])
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertEqual(refused.stdout, "")
        }
        // Plain HTTP to the TLS port gets no answer in clear.
        XCTAssertNil(gateway.get("/healthz"))
    }

    /// The container probe over TLS (compose runs the gateways with TLS and mutual TLS): it pins
    /// the gateway's own certificate and presents it as its client certificate.
    func testTheHealthcheckProbeSpeaksTLSToItsOwnListener() throws {
        let both = try ca.issue("gateway-both", usage: .serverAndClient)
        var extra = ["GATEWAY_TLS_CERT_FILE": both.certificate, "GATEWAY_TLS_KEY_FILE": both.key,
                     "GATEWAY_TLS_CLIENT_CA_FILE": ca.certificateFile]
        let gateway = try GatewayHarness(extra: extra, dir: dir)
        var env = GatewayHarness.baseEnvironment(dir: dir)
        for (k, v) in extra { env[k] = v }
        let url = "https://127.0.0.1:\(gateway.port)/healthz"
        let ok = TestProcess.run(GatewayHarness.binary, ["--healthcheck", url], environment: env)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(TestProcess.run(GatewayHarness.binary, ["--healthcheck", "https://127.0.0.1:\(gateway.port)/nothing"],
            environment: env).status, 1)
        // Plain HTTP to the TLS listener gets no status line.
        XCTAssertEqual(TestProcess.run(GatewayHarness.binary, ["--healthcheck", "http://127.0.0.1:\(gateway.port)/healthz"],
            environment: env).status, 1)

        // Another certificate (even from the same CA) is not the gateway's own: refused, named.
        var wrong = env
        wrong["GATEWAY_TLS_CERT_FILE"] = server.certificate
        wrong["GATEWAY_TLS_KEY_FILE"] = server.key
        wrong["GATEWAY_TLS_CLIENT_CA_FILE"] = nil
        let pinned = TestProcess.run(GatewayHarness.binary, ["--healthcheck", url], environment: wrong)
        XCTAssertEqual(pinned.status, 1)
        XCTAssertTrue(pinned.stderr.contains("not the gateway's own"), pinned.stderr)

        // A server-only certificate cannot be the probe's client certificate: the error says what to issue.
        extra = tlsEnvironment
        extra["GATEWAY_TLS_CLIENT_CA_FILE"] = ca.certificateFile
        let strict = try GatewayHarness(extra: extra, dir: dir)
        for (k, v) in extra { env[k] = v }
        let refused = TestProcess.run(GatewayHarness.binary, ["--healthcheck", "https://127.0.0.1:\(strict.port)/healthz"], environment: env)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("clientAuth"), refused.stderr)

        // Without TLS settings an https:// probe says what it needs.
        let bare = TestProcess.run(GatewayHarness.binary, ["--healthcheck", url], environment: GatewayHarness.baseEnvironment(dir: dir))
        XCTAssertEqual(bare.status, 1)
        XCTAssertTrue(bare.stderr.contains("GATEWAY_TLS_CERT_FILE"), bare.stderr)
        XCTAssertFalse(bare.stderr.contains("BEGIN"), "no key material")
    }

    func testTheSystemdCredentialsServeTLS() throws {
        let credentials = dir + "/credentials"
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: server.certificate, toPath: credentials + "/tls-cert")
        try FileManager.default.copyItem(atPath: server.key, toPath: credentials + "/tls-key")
        let gateway = try GatewayHarness(extra: ["CREDENTIALS_DIRECTORY": credentials], dir: dir)
        let health = curl(gateway.port, "/healthz")
        XCTAssertEqual(health.status, 0, health.stderr)
        XCTAssertTrue(health.stdout.contains("\"status\":\"ok\""), health.stdout)
    }

    func testCheckConfigRefusesBadTLSFilesNamingVariableAndFileNeverTheKey() throws {
        XCTAssertEqual(checkConfig(tlsEnvironment).status, 0, checkConfig(tlsEnvironment).stderr)
        let keyText = try String(contentsOfFile: server.key, encoding: .utf8)
        let keyBody = keyText.split(separator: "\n").filter { !$0.hasPrefix("-----") }

        let other = try ca.issue("other", usage: .server)
        let mismatch = checkConfig(["GATEWAY_TLS_CERT_FILE": server.certificate, "GATEWAY_TLS_KEY_FILE": other.key])
        XCTAssertEqual(mismatch.status, 2)
        XCTAssertTrue(mismatch.stderr.contains("GATEWAY_TLS_KEY_FILE"), mismatch.stderr)
        XCTAssertTrue(mismatch.stderr.contains("does not match the certificate in \(server.certificate)"), mismatch.stderr)

        let onlyCert = checkConfig(["GATEWAY_TLS_CERT_FILE": server.certificate])
        XCTAssertEqual(onlyCert.status, 2)
        XCTAssertTrue(onlyCert.stderr.contains("GATEWAY_TLS_CERT_FILE: set GATEWAY_TLS_KEY_FILE too"), onlyCert.stderr)

        let caWithoutTLS = checkConfig(["GATEWAY_TLS_CLIENT_CA_FILE": ca.certificateFile])
        XCTAssertEqual(caWithoutTLS.status, 2)
        XCTAssertTrue(caWithoutTLS.stderr.contains("GATEWAY_TLS_CLIENT_CA_FILE: client certificates need TLS"), caWithoutTLS.stderr)

        let open = dir + "/open.key"
        try FileManager.default.copyItem(atPath: server.key, toPath: open)
        chmod(open, 0o644)
        let readable = checkConfig(["GATEWAY_TLS_CERT_FILE": server.certificate, "GATEWAY_TLS_KEY_FILE": open])
        XCTAssertEqual(readable.status, 2)
        XCTAssertTrue(readable.stderr.contains("GATEWAY_TLS_KEY_FILE") && readable.stderr.contains("chmod 600 \(open)"), readable.stderr)

        // The key pasted where its path belongs: refused without echoing it.
        let pasted = checkConfig(["GATEWAY_TLS_CERT_FILE": server.certificate, "GATEWAY_TLS_KEY_FILE": keyText])
        XCTAssertEqual(pasted.status, 2)
        XCTAssertTrue(pasted.stderr.contains("GATEWAY_TLS_KEY_FILE must be a path"), pasted.stderr)

        let notAKey = checkConfig(["GATEWAY_TLS_CERT_FILE": server.certificate, "GATEWAY_TLS_KEY_FILE": server.certificate])
        XCTAssertEqual(notAKey.status, 2)
        XCTAssertTrue(notAKey.stderr.contains("GATEWAY_TLS_KEY_FILE"), notAKey.stderr)

        let missing = checkConfig(["GATEWAY_TLS_CERT_FILE": dir + "/nope.pem", "GATEWAY_TLS_KEY_FILE": server.key])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("GATEWAY_TLS_CERT_FILE: cannot read \(dir!)/nope.pem: No such file"), missing.stderr)

        for result in [mismatch, onlyCert, readable, pasted, notAKey, missing] {
            for line in keyBody { XCTAssertFalse(result.stdout.contains(line) || result.stderr.contains(line), "key material echoed") }
        }
    }

    func testSIGHUPReloadsThePairAndKeepsTheOneInServiceOnError() throws {
        let first = try ca.issue("first", usage: .server, commonName: "gw-first", days: 2)
        let second = try ca.issue("second", usage: .server, commonName: "gw-second", days: 5)
        let third = try ca.issue("third", usage: .server, commonName: "gw-third", days: 9)
        let certificate = dir + "/tls.pem", key = dir + "/tls.key"
        func install(_ pair: (certificate: String, key: String)) throws {
            for (from, to) in [(pair.certificate, certificate), (pair.key, key)] {
                try? FileManager.default.removeItem(atPath: to)
                try FileManager.default.copyItem(atPath: from, toPath: to)
            }
        }
        try install(first)
        let gateway = try GatewayHarness(extra: ["GATEWAY_TLS_CERT_FILE": certificate, "GATEWAY_TLS_KEY_FILE": key], dir: dir)
        func servedCN() -> String {
            let out = curl(gateway.port, "/healthz", ["-v"]).stderr
            return out.split(separator: "\n").first { $0.contains("subject: CN=") }.map { String($0.split(separator: "=").last!) } ?? out
        }
        func metric(_ name: String) -> String {
            let text = curl(gateway.port, "/metrics").stdout
            return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count + 1)) } ?? ""
        }
        func reloaded(_ event: String, count: Int) -> Bool {
            TestProcess.waitUntil(timeout: 10) { gateway.process.logLines.filter { $0["event"] as? String == event }.count == count }
        }
        XCTAssertEqual(servedCN(), "gw-first")
        XCTAssertEqual(metric("gateway_tls_certificate_expiry_timestamp_seconds"), String(try notAfter(first.certificate)))
        XCTAssertTrue(curl(gateway.port, "/healthz").stdout.contains("\"tls\":{\"certificate_not_after\":\(try notAfter(first.certificate))}"))

        try install(second)
        gateway.process.signal(SIGHUP)
        XCTAssertTrue(reloaded("tls_reloaded", count: 1), gateway.process.stderr)
        XCTAssertEqual(servedCN(), "gw-second")
        XCTAssertEqual(metric("gateway_tls_certificate_expiry_timestamp_seconds"), String(try notAfter(second.certificate)))

        // A certificate with another pair's key: refused, the second pair keeps serving.
        try FileManager.default.removeItem(atPath: certificate)
        try FileManager.default.copyItem(atPath: third.certificate, toPath: certificate)
        gateway.process.signal(SIGHUP)
        XCTAssertTrue(reloaded("tls_reload_failed", count: 1), gateway.process.stderr)
        let failed = gateway.process.logLines.first { $0["event"] as? String == "tls_reload_failed" }
        XCTAssertEqual(failed?["source"] as? String, "GATEWAY_TLS_KEY_FILE")
        XCTAssertEqual(servedCN(), "gw-second")
        XCTAssertEqual(metric("gateway_tls_certificate_expiry_timestamp_seconds"), String(try notAfter(second.certificate)))
        XCTAssertEqual(metric("gateway_tls_reloads_total{result=\"failure\"}"), "1")
        XCTAssertEqual(metric("gateway_tls_reloads_total{result=\"success\"}"), "1")
        XCTAssertTrue(gateway.process.process.isRunning)
        // The TLS families pass promtool's lint with the rest.
        let lint = TestProcess.run("/bin/bash", ["-c", "curl -sS --cacert \(ca.certificateFile) https://localhost:\(gateway.port)/metrics "
            + "| promtool check metrics"], environment: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(lint.status, 0, lint.stdout + lint.stderr)
    }

    /// The certificate's not-after time as `openssl x509 -enddate` prints it, in Unix seconds.
    private func notAfter(_ certificate: String) throws -> Int64 {
        let out = TestProcess.run("/usr/bin/openssl", ["x509", "-noout", "-enddate", "-in", certificate]).stdout
        let text = out.replacingOccurrences(of: "notAfter=", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "MMM d HH:mm:ss yyyy zzz"
        let date = try XCTUnwrap(formatter.date(from: text.replacingOccurrences(of: "  ", with: " ")), text)
        return Int64(date.timeIntervalSince1970)
    }
}
