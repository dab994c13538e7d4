#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
import TestSupport
import TLS
import Crypto
@testable import HTTPServer
@testable import Platform

/// The server speaking TLS over real sockets on 127.0.0.1, with certificates made by `openssl`
/// at test time and real clients (`curl`, `openssl s_client`) plus raw sockets for the hostile
/// cases: each is refused or closed quickly and the server keeps serving.
final class HTTPServerTLSTests: XCTestCase {
    private var tmp: TemporaryDirectory!
    private var ca: TestCertificateAuthority!
    private var server: (certificate: String, key: String)!

    override func setUpWithError() throws {
        tmp = TemporaryDirectory(prefix: "tls")
        ca = try TestCertificateAuthority(directory: tmp.path)
        server = try ca.issue("server", usage: .server)
    }

    override func tearDown() {
        tmp = nil
    }

    private func files(clientCA: String? = nil) -> TLSFiles {
        TLSFiles(certificate: server.certificate, key: server.key, clientCA: clientCA,
                 certificateSource: "cert", keySource: "key", clientCASource: "client-ca")
    }

    /// A TLS server answering with the path and the client certificate's CN.
    private func startServer(clientCA: String? = nil, configure: (inout HTTPServerConfiguration) -> Void = { _ in })
        throws -> (HTTPServer, Int)
    {
        let store = TLSContextStore(try TLSContext(files(clientCA: clientCA), now: Int64(time(nil))))
        return try makeTestServer({
            $0.tls = store
            configure(&$0)
        }) { request in
            HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")],
                         body: Array("\(request.path) cn=\(request.clientCertificate ?? "-")".utf8))
        }
    }

    private func curl(_ port: Int, _ path: String = "/hello", _ extra: [String] = []) -> (status: Int32, stdout: String, stderr: String) {
        TestProcess.run("/usr/bin/curl", ["-sS", "--max-time", "10", "--cacert", ca.certificateFile] + extra
            + ["https://localhost:\(port)\(path)"], timeout: 15)
    }

    /// `openssl s_client` with `input` (printf escapes) on its standard input, which stays open
    /// `hold` seconds longer unless s_client ends first (its interactive commands need that).
    private func sClient(_ port: Int, _ options: String, input: String = "", hold: Int = 0) -> (status: Int32, stdout: String, stderr: String) {
        TestProcess.run("/bin/bash", ["-c",
            "timeout 10 openssl s_client -connect 127.0.0.1:\(port) -servername localhost "
            + "-CAfile \(ca.certificateFile) \(options) < <(printf '\(input)'; exec sleep \(hold) 2>/dev/null)"], timeout: 15)
    }

    func testServesOverTLS13ByDefaultAndTLS12OnRequest() throws {
        let (server, port) = try startServer()
        defer { server.stopNow() }
        let result = curl(port, "/hello", ["-v"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "/hello cn=-")
        XCTAssertTrue(result.stderr.contains("TLSv1.3"), result.stderr)
        let tls12 = curl(port, "/twelve", ["-v", "--tlsv1.2", "--tls-max", "1.2"])
        XCTAssertEqual(tls12.status, 0, tls12.stderr)
        XCTAssertEqual(tls12.stdout, "/twelve cn=-")
        XCTAssertTrue(tls12.stderr.contains("TLSv1.2 / ECDHE"), tls12.stderr)
        XCTAssertTrue(tls12.stderr.contains("GCM") || tls12.stderr.contains("CHACHA20"), tls12.stderr)
    }

    func testKeepAliveAndManyRequestsOnOneConnection() throws {
        let (server, port) = try startServer()
        defer { server.stopNow() }
        // Ten URLs on one curl: one connection, reused.
        let urls = (0..<10).map { "https://localhost:\(port)/r\($0)" }
        let result = TestProcess.run("/usr/bin/curl", ["-sS", "-v", "--max-time", "10", "--cacert", ca.certificateFile] + urls, timeout: 15)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, (0..<10).map { "/r\($0) cn=-" }.joined())
        XCTAssertEqual(result.stderr.components(separatedBy: "Re-using existing connection").count - 1, 9, result.stderr)
    }

    func testPipelinedRequestsInManyRecordsAreAllAnswered() throws {
        // The session reads records ahead of what the parser asked for: none may be left
        // unanswered waiting for a readiness epoll never reports.
        let (server, port) = try startServer()
        defer { server.stopNow() }
        let count = 400
        let requests = (0..<count).map { "GET /p\($0) HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n" }.joined()
            + "GET /last HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n"
        let result = sClient(port, "-quiet -ign_eof", input: requests)
        XCTAssertEqual(result.stdout.components(separatedBy: "HTTP/1.1 200 OK").count - 1, count + 1, result.stderr)
        XCTAssertTrue(result.stdout.hasSuffix("/last cn=-"), String(result.stdout.suffix(200)))
    }

    func testLargeResponseCrossesManyRecords() throws {
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 3 * 1024 * 1024)
        let store = TLSContextStore(try TLSContext(files(), now: Int64(time(nil))))
        let (server, port) = try makeTestServer({ $0.tls = store }) { _ in HTTPResponse(status: 200, body: body) }
        defer { server.stopNow() }
        let result = curl(port, "/big", ["-o", tmp.path + "/big", "-w", "%{size_download}"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, String(body.count))
    }

    func testSessionsResume() throws {
        let (server, port) = try startServer()
        defer { server.stopNow() }
        let session = tmp.path + "/session"
        for version in ["-tls1_2", "-tls1_3"] {
            // The request makes s_client read the TLS 1.3 ticket that follows the handshake.
            let request = "GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n"
            let first = sClient(port, "\(version) -ign_eof -sess_out \(session)", input: request)
            XCTAssertTrue(first.stdout.contains("cn=-"), first.stdout + first.stderr)
            let second = sClient(port, "\(version) -ign_eof -sess_in \(session)", input: request)
            XCTAssertTrue(second.stdout.contains("Reused, "), "\(version): " + second.stdout + second.stderr)
        }
    }

    func testASwappedContextServesNewConnectionsAndKeepsOpenOnes() throws {
        let second = try ca.issue("second", usage: .server, commonName: "second-server")
        let store = TLSContextStore(try TLSContext(files(), now: Int64(time(nil))))
        let firstAnswered = DispatchSemaphore(value: 0)
        let (server, port) = try makeTestServer({ $0.tls = store }) { request in
            if request.path == "/one" { firstAnswered.signal() }
            return HTTPResponse(status: 200, body: Array(request.path.utf8))
        }
        defer { server.stopNow() }
        // One curl, two requests on one keep-alive connection, 1.5 s apart (--rate 40/m); the
        // context is swapped in between, as a SIGHUP reload does.
        nonisolated(unsafe) var result: (status: Int32, stdout: String, stderr: String)? = nil
        let done = DispatchSemaphore(value: 0)
        let caFile = ca.certificateFile
        DispatchQueue.global().async {
            result = TestProcess.run("/usr/bin/curl", ["-sS", "-v", "--max-time", "10", "--cacert", caFile, "--rate", "40/m",
                "https://localhost:\(port)/one", "https://localhost:\(port)/two"], timeout: 15)
            done.signal()
        }
        XCTAssertEqual(firstAnswered.wait(timeout: .now() + 10), .success)
        store.replace(with: try TLSContext(TLSFiles(certificate: second.certificate, key: second.key, certificateSource: "c",
                                                    keySource: "k"), now: Int64(time(nil))))
        XCTAssertEqual(done.wait(timeout: .now() + 15), .success)
        let open = try XCTUnwrap(result)
        XCTAssertEqual(open.status, 0, open.stderr)
        XCTAssertEqual(open.stdout, "/one/two")
        XCTAssertTrue(open.stderr.contains("Re-using existing connection"), open.stderr)
        XCTAssertTrue(open.stderr.contains("subject: CN=totp-test-server"), open.stderr)
        XCTAssertFalse(open.stderr.contains("second-server"), "the open connection kept its context")
        // A new connection gets the new certificate.
        let fresh = curl(port, "/three", ["-v"])
        XCTAssertEqual(fresh.stdout, "/three")
        XCTAssertTrue(fresh.stderr.contains("subject: CN=second-server"), fresh.stderr)
    }

    func testMutualTLSRequiresACertificateFromTheClientCA() throws {
        let other = try TestCertificateAuthority(directory: tmp.path, name: "other-ca")
        let good = try ca.issue("alice", usage: .client, commonName: "alice-bot")
        let foreign = try other.issue("mallory", usage: .client)
        let (server, port) = try startServer(clientCA: ca.certificateFile)
        defer { server.stopNow() }

        let ok = curl(port, "/code", ["--cert", good.certificate, "--key", good.key])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "/code cn=alice-bot")

        let none = curl(port, "/code")
        XCTAssertNotEqual(none.status, 0)
        XCTAssertEqual(none.stdout, "")
        let refused = curl(port, "/code", ["--cert", foreign.certificate, "--key", foreign.key])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertEqual(refused.stdout, "")
        XCTAssertTrue(waitUntil { server.statistics.tlsHandshakeFailures >= 2 }, "\(server.statistics)")
        // Still serving.
        XCTAssertEqual(curl(port, "/again", ["--cert", good.certificate, "--key", good.key]).stdout, "/again cn=alice-bot")
    }

    func testTLS10And11AreRefused() throws {
        let (server, port) = try startServer()
        defer { server.stopNow() }
        // SECLEVEL=0 so that the client itself would speak the old protocols.
        for version in ["-tls1", "-tls1_1"] {
            let old = sClient(port, "\(version) -cipher DEFAULT@SECLEVEL=0")
            XCTAssertNotEqual(old.status, 0, version)
            XCTAssertTrue(old.stdout.contains("Cipher is (NONE)"), version + old.stdout)
            XCTAssertTrue(old.stderr.contains("alert protocol version"), version + old.stderr)
        }
        // The same client with TLS 1.2 gets through: the refusal is the protocol version.
        let current = sClient(port, "-tls1_2 -cipher DEFAULT@SECLEVEL=0")
        XCTAssertTrue(current.stdout.contains("Cipher is ECDHE-"), current.stdout + current.stderr)
        XCTAssertTrue(waitUntil { server.statistics.tlsHandshakeFailures >= 2 }, "\(server.statistics)")
    }

    func testRenegotiationIsRefused() throws {
        let (server, port) = try startServer()
        defer { server.stopNow() }
        // "R" on its own line makes s_client renegotiate (TLS 1.2; 1.3 has no renegotiation).
        let result = sClient(port, "-tls1_2", input: "R\\n", hold: 3)
        XCTAssertTrue(result.stdout.contains("RENEGOTIATING") || result.stderr.contains("RENEGOTIATING"), result.stdout + result.stderr)
        // The server's no_renegotiation alert, as OpenSSL's client reports it.
        XCTAssertTrue(result.stderr.contains(":no renegotiation:"), result.stderr)
        XCTAssertEqual(curl(port, "/after").stdout, "/after cn=-")
    }

    func testPlainHTTPToTheTLSPortIsClosedAtOnce() throws {
        let (server, port) = try startServer { $0.headerReadTimeout = .seconds(30) }
        defer { server.stopNow() }
        let client = try RawHTTP(port: port)
        try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        // Well before the 30 s header timeout, and no HTTP response in clear.
        XCTAssertTrue(client.waitForClose(within: 5))
        XCTAssertFalse(String(decoding: client.unreadBytes, as: UTF8.self).contains("HTTP/1.1 200"))
        XCTAssertTrue(waitUntil { server.statistics.tlsHandshakeFailures == 1 }, "\(server.statistics)")
    }

    func testGarbageInsteadOfAClientHelloIsClosed() throws {
        let (server, port) = try startServer { $0.headerReadTimeout = .seconds(30) }
        defer { server.stopNow() }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let client = try RawHTTP(port: port)
            try client.send((0..<600).map { _ in UInt8.random(in: 0...255, using: &generator) })
            XCTAssertTrue(client.waitForClose(within: 5))
        }
        XCTAssertEqual(curl(port, "/alive").stdout, "/alive cn=-")
        XCTAssertTrue(waitUntil { server.statistics.tlsHandshakeFailures == 20 }, "\(server.statistics)")
        XCTAssertEqual(server.openConnections, 0)
    }

    func testHalfClientHellosDoNotDelayOthersAndTimeOut() throws {
        let (server, port) = try startServer { $0.headerReadTimeout = .seconds(2) }
        defer { server.stopNow() }
        // A TLS record header announcing a 512-byte ClientHello, then a third of it, then silence.
        let half: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]
            + [UInt8](repeating: 0x42, count: 160)
        var stalled: [RawHTTP] = []
        for _ in 0..<300 {
            let client = try RawHTTP(port: port)
            try client.send(half)
            stalled.append(client)
        }
        XCTAssertTrue(waitUntil { server.openConnections == 300 }, "\(server.openConnections)")
        // What the issue asks: /healthz over TLS answers within 200 ms meanwhile (curl's own
        // clock: connect, handshake, request, response; not the process start).
        let timed = curl(port, "/healthz", ["-w", " %{time_total}"])
        XCTAssertEqual(timed.status, 0, timed.stderr)
        let seconds = Double(timed.stdout.split(separator: " ").last ?? "") ?? 99
        XCTAssertTrue(timed.stdout.hasPrefix("/healthz cn=-"), timed.stdout)
        XCTAssertLessThan(seconds, 0.2, timed.stdout)
        // The handshake deadline (the header timeout) closes every stalled one.
        for client in stalled { XCTAssertTrue(client.waitForClose(within: 10)) }
        XCTAssertTrue(waitUntil { server.openConnections == 0 }, "\(server.openConnections)")
        XCTAssertEqual(server.statistics.timeouts["header"], 300)
    }

    /// A bounded mutation fuzz of a real ClientHello (Python's ssl module makes one in memory):
    /// 5,000 connections, each sending the hello with a few bytes flipped, replaced, cut,
    /// repeated or with a length field changed, reaching deeper into the handshake than random
    /// bytes do. Whatever each one does, the server keeps serving and every connection ends
    /// (none is left waiting past the handshake deadline). The seed is printed, so a failure can
    /// be replayed with TLS_FUZZ_SEED.
    func testMutatedClientHellosAreRefusedAndTheServerKeepsServing() throws {
        let made = TestProcess.run("/usr/bin/python3", ["-c", """
            import ssl, sys
            c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
            i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
            t = c.wrap_bio(i, o, server_hostname="localhost")
            try: t.do_handshake()
            except ssl.SSLWantReadError: pass
            sys.stdout.write(o.read().hex())
            """], timeout: 15)
        let hello = try XCTUnwrap(Crypto.unhex(made.stdout), made.stderr)
        XCTAssertEqual(hello.first, 0x16, "a handshake record")
        XCTAssertGreaterThan(hello.count, 200, "a whole ClientHello")

        let (server, port) = try startServer { $0.headerReadTimeout = .seconds(2) }
        defer { server.stopNow() }
        let seed = ProcessInfo.processInfo.environment["TLS_FUZZ_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        print("tls-mutation-fuzz: seed \(seed)")
        var rng = SplitMix64(seed: seed)
        let deadline = Date().addingTimeInterval(60)
        var sent = 0
        while sent < 5_000 && Date() < deadline {
            var bytes = hello
            for _ in 0..<(1 + Int(rng.next() % 4)) { mutate(&bytes, &rng) }
            let client = try RawHTTP(port: port, timeout: 2)
            try? client.send(bytes)  // the server may already have closed: that is a fine answer
            client.close()
            sent += 1
        }
        XCTAssertEqual(sent, 5_000, "bounded at 60 s")
        XCTAssertEqual(curl(port, "/alive").stdout, "/alive cn=-", "the server still serves after \(sent) mutated hellos")
        XCTAssertTrue(waitUntil { server.openConnections == 0 }, "connections left open: \(server.openConnections), \(server.statistics)")
        print("tls-mutation-fuzz: \(sent) mutated ClientHellos, \(server.statistics.tlsHandshakeFailures) handshake failures counted")
    }

    /// One mutation, of the kinds that find parser bugs: a bit flip, an extreme byte, a cut, a
    /// repeated slice, or a length field (record, handshake, or any two bytes) set to an edge value.
    private func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64) {
        guard bytes.count > 9 else { return }
        let at = Int(rng.next() % UInt64(bytes.count))
        switch rng.next() % 6 {
        case 0: bytes[at] ^= UInt8(1 << (rng.next() % 8))
        case 1: bytes[at] = [0x00, 0xFF, 0x7F, 0x80][Int(rng.next() % 4)]
        case 2: bytes.removeSubrange(max(at, 1)...)
        case 3:
            let end = min(bytes.count, at + 1 + Int(rng.next() % 64))
            bytes.insert(contentsOf: bytes[at..<end], at: at)
        case 4:
            // The record length (3-4) or the handshake length (6-8).
            let field = [3, 4, 6, 7, 8][Int(rng.next() % 5)]
            bytes[field] = [0x00, 0xFF, 0x01][Int(rng.next() % 3)]
        default:
            let value = UInt16(truncatingIfNeeded: [0, 1, 0xFFFF, 0x4000][Int(rng.next() % 4)])
            let i = min(at, bytes.count - 2)
            bytes[i] = UInt8(value >> 8)
            bytes[i + 1] = UInt8(value & 0xFF)
        }
    }

    func testContextsAreCheckedWithErrorsNamingTheSetting() throws {
        let other = try ca.issue("other", usage: .server)
        let mismatched = TLSFiles(certificate: server.certificate, key: other.key, certificateSource: "GATEWAY_TLS_CERT_FILE",
                                  keySource: "GATEWAY_TLS_KEY_FILE")
        XCTAssertThrowsError(try TLSContext(mismatched, now: Int64(time(nil)))) { error in
            let tls = error as! TLSError
            XCTAssertEqual(tls.code, .keyMismatch)
            XCTAssertTrue(tls.description.hasPrefix("GATEWAY_TLS_KEY_FILE: "), tls.description)
            XCTAssertTrue(tls.description.contains(other.key), tls.description)
        }
        let expired = try TLSContext(files(), now: Int64(time(nil))).notAfter
        XCTAssertThrowsError(try TLSContext(files(), now: expired + 1)) { error in
            XCTAssertEqual((error as! TLSError).code, .expired)
            XCTAssertTrue((error as! TLSError).description.hasPrefix("cert: "))
        }
        let garbage = tmp.write("garbage.pem", "not a certificate\n")
        XCTAssertThrowsError(try TLSContext(TLSFiles(certificate: garbage, key: server.key, certificateSource: "C", keySource: "K"), now: 0)) {
            XCTAssertEqual(($0 as! TLSError).code, .certificate)
        }
        // The key file's text never appears in an error about it.
        let keyText = try String(contentsOfFile: server.key, encoding: .utf8)
        XCTAssertThrowsError(try TLSContext(TLSFiles(certificate: server.key, key: server.key, certificateSource: "C", keySource: "K"), now: 0)) {
            let text = "\($0)"
            for line in keyText.split(separator: "\n") where !line.hasPrefix("-----") { XCTAssertFalse(text.contains(line)) }
        }
        XCTAssertThrowsError(try TLSContext(TLSFiles(certificate: tmp.path + "/missing.pem", key: server.key, certificateSource: "C", keySource: "K"), now: 0)) {
            XCTAssertTrue("\($0)".contains("No such file"), "\($0)")
        }
    }

    private func waitUntil(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }
}

/// A small deterministic generator (SplitMix64), so a fuzz run is replayed from its seed.
private struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
