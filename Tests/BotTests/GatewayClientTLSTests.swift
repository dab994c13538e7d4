#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
import TestSupport
import TLS
@testable import Bot
@testable import CurlHTTP
@testable import HTTPServer
@testable import Platform

/// Issue 12: the bot reaches gateways over TLS, with mutual TLS when they require it
/// (`GATEWAY_CLIENT_CERT_FILE`/`GATEWAY_CLIENT_KEY_FILE`), through the same options its runner
/// builds, against the server's real TLS listener; and its settings refuse half a pair.
final class GatewayClientTLSTests: XCTestCase {
    func testTheBotPresentsItsCertificateToAGatewayRequiringMutualTLS() throws {
        let tmp = TemporaryDirectory(prefix: "bot-tls")
        let ca = try TestCertificateAuthority(directory: tmp.path)
        let server = try ca.issue("gateway", usage: .server)
        let bot = try ca.issue("bot", usage: .client, commonName: "totp-bot")
        let files = TLSFiles(certificate: server.certificate, key: server.key, clientCA: ca.certificateFile,
                             certificateSource: "cert", keySource: "key")
        var config = HTTPServerConfiguration()
        config.port = 0
        config.eventLoops = 1
        config.tls = TLSContextStore(try TLSContext(files, now: Int64(time(nil))))
        // The gateway's answer, naming the certificate the request came with.
        let httpServer = HTTPServer(configuration: config, logger: Logger(component: "gw", sink: .memory())) { request in
            let body = #"{"label":"demo","code":"123456","period":30,"digits":6,"algorithm":"SHA1","remaining":12,"expires_at":1764064800,"instance":"\#(request.clientCertificate ?? "none")"}"#
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
        }
        let port = try httpServer.start()
        defer { httpServer.stopNow() }

        func client(certificate: String?, key: String?) -> GatewayClient {
            GatewayClient(
                configuration: GatewayClientConfiguration(baseURLs: ["https://localhost:\(port)"], token: "t", caFile: ca.certificateFile,
                    perAttemptTimeout: .seconds(3), overallDeadline: .seconds(5)),
                http: HTTPClient(options: .bot(caFile: ca.certificateFile, clientCertificate: certificate, clientKey: key)),
                wallClock: { 1_764_064_788 })
        }
        let outcome = client(certificate: bot.certificate, key: bot.key).fetchCode(label: "demo", next: false, requestID: "r1")
        guard case .code(let code) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(code.instance, "totp-bot")
        // Without its certificate the handshake fails: no code.
        let refused = client(certificate: nil, key: nil).fetchCode(label: "demo", next: false, requestID: "r2")
        if case .code = refused { XCTFail("served without a client certificate") }
        XCTAssertGreaterThanOrEqual(httpServer.statistics.tlsHandshakeFailures, 1)
    }

    func testTheSettingsWantBothFilesAndAPrivateKey() throws {
        let tmp = TemporaryDirectory(prefix: "bot-tls-settings")
        let ca = try TestCertificateAuthority(directory: tmp.path)
        let bot = try ca.issue("bot", usage: .client)
        func problems(_ env: [String: String]) -> [String] {
            let base = ["ZULIP_SITE": "https://chat.example.com", "ZULIP_EMAIL": "bot@example.com", "ZULIP_API_KEY": "key",
                        "GATEWAY_URLS": "https://127.0.0.1:1", "GATEWAY_TOKEN": "token", "BOT_STATE_DIR": tmp.path]
            do {
                let config = try BotConfiguration.load(environment: Environment(base.merging(env) { $1 }), zuliprcPath: nil)
                XCTAssertEqual(config.gatewayClientCertificateFile, env["GATEWAY_CLIENT_CERT_FILE"])
                XCTAssertEqual(config.gatewayClientKeyFile, env["GATEWAY_CLIENT_KEY_FILE"])
                return []
            } catch { return error.problems.map(\.description) }
        }
        XCTAssertEqual(problems(["GATEWAY_CLIENT_CERT_FILE": bot.certificate, "GATEWAY_CLIENT_KEY_FILE": bot.key]), [])
        XCTAssertEqual(problems(["GATEWAY_CLIENT_CERT_FILE": bot.certificate]),
            ["GATEWAY_CLIENT_CERT_FILE: set GATEWAY_CLIENT_KEY_FILE too: a client certificate needs its private key"])
        XCTAssertEqual(problems(["GATEWAY_CLIENT_KEY_FILE": bot.key]),
            ["GATEWAY_CLIENT_KEY_FILE: set GATEWAY_CLIENT_CERT_FILE too: a private key needs its certificate"])
        chmod(bot.key, 0o644)
        let open = problems(["GATEWAY_CLIENT_CERT_FILE": bot.certificate, "GATEWAY_CLIENT_KEY_FILE": bot.key])
        XCTAssertEqual(open.count, 1)
        XCTAssertTrue(open.first?.contains("chmod 600 \(bot.key)") ?? false, "\(open)")
        let pasted = problems(["GATEWAY_CLIENT_CERT_FILE": bot.certificate, "GATEWAY_CLIENT_KEY_FILE": "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n"])
        XCTAssertEqual(pasted, ["GATEWAY_CLIENT_KEY_FILE: GATEWAY_CLIENT_KEY_FILE must be a path (e.g. /etc/totp-bot/client.pem); its value is not shown in case it is a key"])
    }
}
