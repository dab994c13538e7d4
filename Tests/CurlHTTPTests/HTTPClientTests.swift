import Foundation
import Synchronization
import XCTest
import TestSupport
@testable import Platform
@testable import CurlHTTP

final class HTTPClientTests: XCTestCase {
    private func makeClient(verboseTo sink: LogSink? = nil) -> HTTPClient {
        var options = HTTPClientOptions(userAgent: "totp-tests/1.0")
        if let sink {
            options.verbose = true
            options.verboseLogger = Logger(component: "curl", minimumLevel: .debug, sink: sink)
        }
        return HTTPClient(options: options)
    }

    private func request(_ method: String, _ url: String, body: [UInt8]? = nil) -> HTTPClientRequest {
        HTTPClientRequest(method: method, url: url, body: body, timeout: .seconds(5), connectTimeout: .seconds(2))
    }

    /// With `tcpKeepAlive` the kernel's keep-alive timer runs on the client's idle connection,
    /// due after the idle time asked for; without it, no timer. Read from `/proc/self/net/tcp`
    /// (column `tr:tm->when`: timer 2 is keep-alive, the expiry in clock ticks).
    func testTCPKeepAliveArmsTheKernelsTimerOnIdleConnections() throws {
        let plain = try ScriptedHTTPServer()
        let kept = try ScriptedHTTPServer()
        defer { plain.stop(); kept.stop() }
        var options = HTTPClientOptions(userAgent: "totp-tests/1.0")
        options.tcpKeepAlive = .init(idle: .seconds(40), interval: .seconds(10))
        XCTAssertEqual(try HTTPClient(options: options).perform(request("GET", kept.baseURL + "/x")).status, 200)
        XCTAssertEqual(try makeClient().perform(request("GET", plain.baseURL + "/x")).status, 200)

        let keptTimer = try XCTUnwrap(Self.clientTimer(toPort: kept.port), "no idle client connection to the server")
        XCTAssertEqual(keptTimer.kind, 2, "keep-alive timer not armed")
        XCTAssertGreaterThan(keptTimer.seconds, 30)
        XCTAssertLessThanOrEqual(keptTimer.seconds, 40)
        XCTAssertEqual(try XCTUnwrap(Self.clientTimer(toPort: plain.port)).kind, 0, "no timer without the option")
        XCTAssertEqual(HTTPClient.wholeSeconds(.milliseconds(300)), 1)
        XCTAssertEqual(HTTPClient.wholeSeconds(.seconds(30)), 30)
    }

    /// The kernel timer of this process's established TCP connection to 127.0.0.1:`port`.
    private static func clientTimer(toPort port: UInt16) -> (kind: Int, seconds: Double)? {
        // Read to the end: a /proc file has no size, and one read returns only its first page.
        guard let data = FileHandle(forReadingAtPath: "/proc/self/net/tcp")?.readDataToEndOfFile() else { return nil }
        let table = String(decoding: data, as: UTF8.self)
        let remote = String(format: "0100007F:%04X", Int(port))
        for line in table.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ")
            guard f.count > 5, f[2] == remote, f[3] == "01" else { continue }
            let timer = f[5].split(separator: ":")
            guard timer.count == 2, let kind = Int(timer[0], radix: 16), let ticks = Int(timer[1], radix: 16) else { return nil }
            return (kind, Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK))))
        }
        return nil
    }

    func testMethodsHeadersAndBodiesReachServerAsSent() throws {
        let server = try ScriptedHTTPServer()
        defer { server.stop() }
        let http = makeClient()
        let form = FormEncoding.encode([("type", "private"), ("content", "a b&c=d")])

        var post = request("POST", server.baseURL + "/api/v1/messages", body: form)
        post.headers = [("Content-Type", "application/x-www-form-urlencoded"), ("X-Request-ID", "r-1")]
        var patch = request("PATCH", server.baseURL + "/api/v1/messages/7", body: Array("content=x".utf8))
        patch.headers = [("X-Trace", "p")]
        let delete = request("DELETE", server.baseURL + "/api/v1/messages/7")
        let get = request("GET", server.baseURL + "/code?label=db%2Fprod&next=1")

        for r in [post, patch, delete, get] {
            XCTAssertEqual(try http.perform(r).status, 200)
        }
        let seen = server.requests
        XCTAssertEqual(seen.map(\.method), ["POST", "PATCH", "DELETE", "GET"])
        XCTAssertEqual(seen.map(\.path), ["/api/v1/messages", "/api/v1/messages/7", "/api/v1/messages/7", "/code?label=db%2Fprod&next=1"])
        XCTAssertEqual(seen[0].body, form)
        XCTAssertEqual(seen[0].bodyText, "type=private&content=a%20b%26c%3Dd")
        XCTAssertEqual(seen[0].header("content-type"), "application/x-www-form-urlencoded")
        XCTAssertEqual(seen[0].header("x-request-id"), "r-1")
        XCTAssertNil(seen[0].header("expect"), "Expect: 100-continue must be disabled")
        XCTAssertEqual(seen[1].bodyText, "content=x")
        XCTAssertEqual(seen[1].header("X-Trace"), "p")
        XCTAssertEqual(seen[2].body, [])
        XCTAssertEqual(seen[3].body, [])
        XCTAssertEqual(seen[3].header("user-agent"), "totp-tests/1.0")
    }

    func testEmptyPostSendsZeroLengthBody() throws {
        let server = try ScriptedHTTPServer()
        defer { server.stop() }
        XCTAssertEqual(try makeClient().perform(request("POST", server.baseURL + "/empty")).status, 200)
        XCTAssertEqual(server.requests.first?.method, "POST")
        XCTAssertEqual(server.requests.first?.header("content-length"), "0")
    }

    func testBasicAuthHeaderSent() throws {
        let server = try ScriptedHTTPServer()
        defer { server.stop() }
        var r = request("GET", server.baseURL + "/api/v1/users/me")
        r.basicAuth = (user: "bot@example.com", password: "s3cret-key")
        _ = try makeClient().perform(r)
        let expected = "Basic " + Data("bot@example.com:s3cret-key".utf8).base64EncodedString()
        XCTAssertEqual(server.requests.first?.header("authorization"), expected)
        XCTAssertFalse(r.description.contains("s3cret"), "description must not show credentials")
    }

    func testResponseStatusHeadersAndBodyParsed() throws {
        let server = try ScriptedHTTPServer(script: [
            .text(429, "{\"error\":\"rate_limited\"}", headers: [("Content-Type", "application/json"), ("Retry-After", "3"), ("X-Multi", "a"), ("X-Multi", "b")])
        ])
        defer { server.stop() }
        let response = try makeClient().perform(request("GET", server.baseURL + "/x"))
        XCTAssertEqual(response.status, 429)
        XCTAssertEqual(response.header("retry-after"), "3")
        XCTAssertEqual(response.header("CONTENT-TYPE"), "application/json")
        XCTAssertEqual(response.headers.filter { $0.0 == "X-Multi" }.map(\.1), ["a", "b"])
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "{\"error\":\"rate_limited\"}")
    }

    func testInterimContinueIsDroppedFromHeaders() throws {
        var answer = ScriptedResponse.text(201, "made", headers: [("X-Final", "yes")])
        answer.interimContinue = true
        let server = try ScriptedHTTPServer(script: [answer])
        defer { server.stop() }
        let response = try makeClient().perform(request("POST", server.baseURL + "/x", body: Array("a=1".utf8)))
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(response.header("x-final"), "yes")
        XCTAssertEqual(response.headers.filter { $0.0.lowercased() == "content-length" }.count, 1)
        XCTAssertEqual(response.body, Array("made".utf8))
    }

    func testTwoRequestsOnOneThreadReuseOneConnection() throws {
        let server = try ScriptedHTTPServer()
        defer { server.stop() }
        let sink = LogSink.memory()
        let http = makeClient(verboseTo: sink)
        var r = request("GET", server.baseURL + "/one")
        r.basicAuth = (user: "someone", password: "pw-never-logged")
        _ = try http.perform(r)
        _ = try http.perform(request("GET", server.baseURL + "/two"))
        XCTAssertEqual(server.requests.count, 2)
        XCTAssertEqual(server.acceptedConnections, 1)
        XCTAssertEqual(server.requests.map(\.connection), [1, 1])
        // Verbose output is informational text only: no headers, no credentials.
        XCTAssertFalse(sink.captured.isEmpty)
        XCTAssertFalse(sink.captured.contains { $0.contains("pw-never-logged") || $0.contains("Authorization") || $0.contains("someone") })
    }

    func testSeparateThreadsUseSeparateHandles() throws {
        let server = try ScriptedHTTPServer()
        defer { server.stop() }
        let http = makeClient()
        let url = server.baseURL + "/t"
        let failures = Mutex(0)
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            Thread {
                for _ in 0..<3 {
                    let status = try? http.perform(HTTPClientRequest(url: url, timeout: .seconds(5)))
                    if status?.status != 200 { failures.withLock { $0 += 1 } }
                }
                group.leave()
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(failures.withLock { $0 }, 0)
        XCTAssertEqual(server.requests.count, 12)
        // Each thread keeps its own connection; threads exiting free their handles.
        XCTAssertLessThanOrEqual(server.acceptedConnections, 4)
    }

    func testConnectionRefusedIsConnectError() throws {
        let refusing = try ReservedPort()
        defer { refusing.close() }
        let start = ContinuousClock.now
        XCTAssertThrowsError(try makeClient().perform(request("GET", "http://127.0.0.1:\(refusing.port)/x"))) { error in
            let e = error as! HTTPClientError
            XCTAssertEqual(e.kind, .connect)
            XCTAssertEqual(e.curlCode, 7)
            XCTAssertFalse(e.message.isEmpty)
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(1))
    }

    func testSlowServerIsTimeoutWithinBound() throws {
        let server = try ScriptedHTTPServer(fallback: .delayed(.seconds(5)))
        defer { server.stop() }
        var r = request("GET", server.baseURL + "/slow")
        r.timeout = .milliseconds(300)
        let start = ContinuousClock.now
        XCTAssertThrowsError(try makeClient().perform(r)) { error in
            XCTAssertEqual((error as! HTTPClientError).kind, .timeout)
            XCTAssertEqual((error as! HTTPClientError).curlCode, 28)
        }
        let elapsed = ContinuousClock.now - start
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(250))
        XCTAssertLessThan(elapsed, .seconds(2))
    }

    func testCloseWithoutAnswerIsEmptyReply() throws {
        let server = try ScriptedHTTPServer(fallback: .emptyReply)
        defer { server.stop() }
        XCTAssertThrowsError(try makeClient().perform(request("GET", server.baseURL + "/x"))) { error in
            XCTAssertEqual((error as! HTTPClientError).kind, .emptyReply)
            XCTAssertEqual((error as! HTTPClientError).curlCode, 52)
        }
    }

    func testRedirectIsReturnedNotFollowed() throws {
        let server = try ScriptedHTTPServer(script: [
            .text(302, "", headers: [("Location", "/elsewhere")])
        ])
        defer { server.stop() }
        let response = try makeClient().perform(request("GET", server.baseURL + "/start"))
        XCTAssertEqual(response.status, 302)
        XCTAssertEqual(response.header("location"), "/elsewhere")
        XCTAssertEqual(server.requests.map(\.path), ["/start"])
    }

    func testOnlyHTTPSchemesAllowed() {
        XCTAssertThrowsError(try makeClient().perform(request("GET", "file:///etc/passwd"))) { error in
            let e = error as! HTTPClientError
            XCTAssertEqual(e.kind, .other)
            XCTAssertEqual(e.curlCode, 1)  // CURLE_UNSUPPORTED_PROTOCOL
        }
    }

    func testTLSAgainstPlainServerIsTLSError() throws {
        let server = try ScriptedHTTPServer()
        defer { server.stop() }
        XCTAssertThrowsError(try makeClient().perform(request("GET", "https://127.0.0.1:\(server.port)/x"))) { error in
            XCTAssertEqual((error as! HTTPClientError).kind, .tls)
        }
    }

    func testHeaderInjectionRefusedBeforeSending() throws {
        let server = try ScriptedHTTPServer()
        defer { server.stop() }
        var r = request("GET", server.baseURL + "/x")
        r.headers = [("X-Evil", "a\r\nInjected: yes")]
        XCTAssertThrowsError(try makeClient().perform(r)) { error in
            XCTAssertEqual((error as! HTTPClientError).kind, .other)
        }
        XCTAssertEqual(server.requests.count, 0)
    }

    func testOversizedBodyRefused() throws {
        let server = try ScriptedHTTPServer(fallback: .text(200, String(repeating: "x", count: 5000)))
        defer { server.stop() }
        var options = HTTPClientOptions(userAgent: "t")
        options.maxResponseBytes = 1000
        XCTAssertThrowsError(try HTTPClient(options: options).perform(request("GET", server.baseURL + "/big"))) { error in
            XCTAssertEqual((error as! HTTPClientError).kind, .other)
            XCTAssertTrue((error as! HTTPClientError).message.contains("1000"))
        }
    }

    func testFormEncoding() {
        XCTAssertEqual(FormEncoding.percentEncode("db/prod é~-._ "), "db%2Fprod%20%C3%A9~-._%20")
        XCTAssertEqual(String(decoding: FormEncoding.encode([("to", "[42]"), ("content", "a+b")]), as: UTF8.self),
                       "to=%5B42%5D&content=a%2Bb")
        XCTAssertEqual(FormEncoding.encode([]), [])
    }

    func testMillisecondsNeverZero() {
        XCTAssertEqual(HTTPClient.milliseconds(.zero), 1)
        XCTAssertEqual(HTTPClient.milliseconds(.microseconds(10)), 1)
        XCTAssertEqual(HTTPClient.milliseconds(.milliseconds(1500)), 1500)
    }
}
