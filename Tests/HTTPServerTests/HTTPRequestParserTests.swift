import XCTest
@testable import HTTPServer

/// The parser fed raw bytes, one malformed input per test.
final class HTTPRequestParserTests: XCTestCase {
    private func parse(_ text: String, parser: HTTPRequestParser = HTTPRequestParser()) -> HTTPParseResult {
        var parser = parser
        return parser.parse(Array(text.utf8))
    }

    private func request(_ text: String, file: StaticString = #filePath, line: UInt = #line)
        -> (HTTPRequest, Int, Bool)?
    {
        switch parse(text) {
        case .request(let request, let consumed, let keepAlive): return (request, consumed, keepAlive)
        case .needMoreData: XCTFail("needMoreData", file: file, line: line)
        case .failure(let error): XCTFail("unexpected \(error)", file: file, line: line)
        }
        return nil
    }

    private func assertFailure(
        _ text: String, _ expected: HTTPParseError, status: Int, file: StaticString = #filePath, line: UInt = #line
    ) {
        assertFailure(Array(text.utf8), expected, status: status, file: file, line: line)
    }

    private func assertFailure(
        _ bytes: [UInt8], _ expected: HTTPParseError, status: Int, parser: HTTPRequestParser = HTTPRequestParser(),
        file: StaticString = #filePath, line: UInt = #line
    ) {
        var parser = parser
        switch parser.parse(bytes) {
        case .failure(let error):
            XCTAssertEqual(error, expected, "got \(error)", file: file, line: line)
            XCTAssertEqual(error.status, status, file: file, line: line)
        case .request(let request, _, _): XCTFail("parsed \(request.target)", file: file, line: line)
        case .needMoreData: XCTFail("needMoreData", file: file, line: line)
        }
    }

    private func assertNeedsMore(_ result: HTTPParseResult, file: StaticString = #filePath, line: UInt = #line) {
        guard case .needMoreData = result else { return XCTFail("expected needMoreData, got \(result)", file: file, line: line) }
    }

    // MARK: - Accepted shapes

    func testSimpleGet() throws {
        let text = "GET /code?label=a%20b HTTP/1.1\r\nHost: example.org\r\nX-Multi: 1\r\nx-multi:  2 \r\n\r\n"
        let (request, consumed, keepAlive) = try XCTUnwrap(request(text))
        XCTAssertEqual(request.method, .get)
        XCTAssertEqual(request.path, "/code")
        XCTAssertEqual(request.query, "label=a%20b")
        XCTAssertEqual(request.version, .http1_1)
        XCTAssertEqual(request.headers["HOST"], "example.org")
        XCTAssertEqual(request.headers.values("X-MULTI"), ["1", "2"])
        XCTAssertNil(request.headers["missing"])
        XCTAssertEqual(consumed, text.utf8.count)
        XCTAssertTrue(keepAlive)
    }

    func testConsumedStopsAtEndOfFirstPipelinedRequest() throws {
        let first = "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
        let (request, consumed, _) = try XCTUnwrap(request(first + "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"))
        XCTAssertEqual(request.method, .head)
        XCTAssertEqual(consumed, first.utf8.count)
    }

    func testKeepAliveDecisions() throws {
        XCTAssertEqual(try XCTUnwrap(request("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).2, true)
        XCTAssertEqual(try XCTUnwrap(request("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")).2, false)
        XCTAssertEqual(try XCTUnwrap(request("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n")).2, false)
        XCTAssertEqual(try XCTUnwrap(request("GET / HTTP/1.0\r\n\r\n")).2, false)
        XCTAssertEqual(try XCTUnwrap(request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")).2, true)
        XCTAssertEqual(try XCTUnwrap(request("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")).2, false)
    }

    func testHTTP10WithoutHostIsAccepted() throws {
        XCTAssertEqual(try XCTUnwrap(request("GET / HTTP/1.0\r\n\r\n")).0.version, .http1_0)
    }

    func testHigherMinorVersionReadAsHTTP11() throws {
        XCTAssertEqual(try XCTUnwrap(request("GET / HTTP/1.7\r\nHost: a\r\n\r\n")).0.version, .http1_1)
    }

    func testOtherMethodsParseForThe405() throws {
        XCTAssertEqual(try XCTUnwrap(request("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n")).0.method, .other("DELETE"))
        // Methods are case-sensitive.
        XCTAssertEqual(try XCTUnwrap(request("get / HTTP/1.1\r\nHost: a\r\n\r\n")).0.method, .other("get"))
        XCTAssertEqual(try XCTUnwrap(request("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")).0.path, "*")
    }

    func testContentLengthZeroIsAccepted() throws {
        XCTAssertNotNil(request("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"))
    }

    func testLeadingEmptyLinesAreSkipped() throws {
        let text = "\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"
        let (request, consumed, _) = try XCTUnwrap(request(text))
        XCTAssertEqual(request.path, "/x")
        XCTAssertEqual(consumed, text.utf8.count)
    }

    func testEmptyHeaderValueAndObsTextAllowed() throws {
        var bytes = Array("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Latin: caf".utf8)
        bytes.append(0xE9)
        bytes.append(contentsOf: Array("\r\n\r\n".utf8))
        var parser = HTTPRequestParser()
        guard case .request(let request, _, _) = parser.parse(bytes) else { return XCTFail("not parsed") }
        XCTAssertEqual(request.headers["x-empty"], "")
        XCTAssertEqual(request.headers["x-latin"], "caf\u{FFFD}")
    }

    func testOneByteAtATime() throws {
        let bytes = Array("GET /split?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n".utf8)
        var parser = HTTPRequestParser()
        for end in 1..<bytes.count {
            guard case .needMoreData = parser.parse(Array(bytes[0..<end])) else {
                return XCTFail("expected needMoreData at \(end)")
            }
        }
        guard case .request(let request, let consumed, _) = parser.parse(bytes) else { return XCTFail("not parsed") }
        XCTAssertEqual(request.target, "/split?x=1")
        XCTAssertEqual(request.headers["accept"], "*/*")
        XCTAssertEqual(consumed, bytes.count)
    }

    func testSerializedHeadRoundTrips() throws {
        let (request, _, _) = try XCTUnwrap(request("GET /a?b=c&d HTTP/1.0\r\nHost: h\r\nX-Y:  z z \r\n\r\n"))
        var parser = HTTPRequestParser()
        guard case .request(let again, _, _) = parser.parse(request.serializedHead()) else { return XCTFail() }
        XCTAssertEqual(again.method, request.method)
        XCTAssertEqual(again.target, request.target)
        XCTAssertEqual(again.version, request.version)
        XCTAssertEqual(again.headers, request.headers)
        XCTAssertEqual(again.headers["x-y"], "z z")
    }

    func testQueryItemsDecoding() {
        let request = HTTPRequest(path: "/code", query: "label=a%20b&x=1+2&&flag&bad=%zz&utf=%C3%A9")
        let items = request.queryItems()
        XCTAssertEqual(items.map(\.0), ["label", "x", "flag", "bad", "utf"])
        XCTAssertEqual(items.map(\.1), ["a b", "1 2", "", "%zz", "é"])
        XCTAssertTrue(HTTPRequest(path: "/").queryItems().isEmpty)
    }

    // MARK: - Smuggling shapes and malformed input

    func testContentLengthWithTransferEncoding() {
        assertFailure("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                      .transferEncoding, status: 400)
    }

    func testTransferEncodingAlone() {
        assertFailure("GET / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\n", .transferEncoding, status: 400)
    }

    func testDoubleContentLength() {
        assertFailure("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
                      .multipleContentLength, status: 400)
    }

    func testContentLengthList() {
        assertFailure("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", .invalidContentLength, status: 400)
    }

    func testContentLengthNotANumber() {
        assertFailure("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", .invalidContentLength, status: 400)
        assertFailure("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
                      .invalidContentLength, status: 400)
    }

    func testBodyIs413() {
        assertFailure("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", .bodyNotAllowed, status: 413)
    }

    func testObsFold() {
        assertFailure("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  continued\r\n\r\n", .obsFold, status: 400)
        assertFailure("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tcontinued\r\n\r\n", .obsFold, status: 400)
    }

    /// Decision: bare LF line endings are refused (RFC 9112 2.2 allows either; refusing removes
    /// any disagreement with a proxy about where a line ends).
    func testBareLFRejected() {
        assertFailure("GET / HTTP/1.1\nHost: a\n\n", .bareLF, status: 400)
        assertFailure("GET / HTTP/1.1\r\nHost: a\n\r\n", .bareLF, status: 400)
    }

    func testBareCRRejected() {
        assertFailure("GET / HTTP/1.1\r\nHost: a\rX-B: c\r\n\r\n", .bareCR, status: 400)
    }

    func testWhitespaceBeforeColon() {
        assertFailure("GET / HTTP/1.1\r\nHost : a\r\n\r\n", .whitespaceBeforeColon, status: 400)
    }

    func testInvalidHeaderNameCharacters() {
        assertFailure("GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n", .invalidHeaderName, status: 400)
        assertFailure("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", .invalidHeaderName, status: 400)
        assertFailure("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", .invalidHeaderName, status: 400)
    }

    func testNULInHeaderValue() {
        var bytes = Array("GET / HTTP/1.1\r\nHost: a\r\nX-A: b".utf8)
        bytes.append(0)
        bytes.append(contentsOf: Array("c\r\n\r\n".utf8))
        assertFailure(bytes, .invalidHeaderValue, status: 400)
    }

    func testDELInHeaderValue() {
        assertFailure("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\u{7F}\r\n\r\n", .invalidHeaderValue, status: 400)
    }

    func testMissingHostOnHTTP11() {
        assertFailure("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", .missingHost, status: 400)
    }

    func testDuplicateHost() {
        assertFailure("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", .multipleHost, status: 400)
    }

    func testBadMethodToken() {
        assertFailure("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", .invalidMethod, status: 400)
        assertFailure("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", .invalidMethod, status: 400)
    }

    func testBinaryJunkFailsBeforeALineEnd() {
        // A TLS ClientHello starts with 0x16: refused from the first byte, without waiting.
        assertFailure([0x16, 0x03, 0x01, 0x02, 0x00], .invalidMethod, status: 400)
    }

    func testDoubleSpaceInRequestLine() {
        assertFailure("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", .invalidRequestLine, status: 400)
        assertFailure("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", .invalidVersion, status: 400)
    }

    func testMissingVersion() {
        assertFailure("GET /\r\nHost: a\r\n\r\n", .invalidRequestLine, status: 400)
    }

    func testRequestLineWithoutVersionFailsAtItsLineEnd() {
        // HTTP/0.9 (`GET /` and CRLF) has no header block to wait for: refused when the line
        // ends, not after the header timeout.
        assertFailure("GET /\r\n", .invalidRequestLine, status: 400)
        assertFailure("\r\nGET /index.html\r\n", .invalidRequestLine, status: 400)
        // Every request-line error shows at the line end, before any header arrives.
        assertFailure("GET / HTTP/2.0\r\n", .unsupportedVersion, status: 505)
        assertFailure("GET / HTTX/1.1\r\n", .invalidVersion, status: 400)
        assertFailure("GET  / HTTP/1.1\r\n", .invalidRequestLine, status: 400)
        assertFailure("GET /a#b HTTP/1.1\r\n", .invalidTarget, status: 400)
        assertFailure("GET http://x/ HTTP/1.1\r\n", .absoluteForm, status: 400)
        // A valid request line still waits for its headers, whole or split anywhere.
        var parser = HTTPRequestParser()
        assertNeedsMore(parser.parse(Array("GET / HTTP/1.1\r\n".utf8)))
        assertNeedsMore(parser.parse(Array("GET / HTTP/1.1\r\nHost: a\r\n".utf8)))
    }

    func testRequestLineWithoutVersionFailsWhenSplitAcrossReads() {
        var parser = HTTPRequestParser()
        assertNeedsMore(parser.parse(Array("GET /".utf8)))
        assertNeedsMore(parser.parse(Array("GET /\r".utf8)))
        guard case .failure(let error) = parser.parse(Array("GET /\r\n".utf8)) else {
            return XCTFail("an HTTP/0.9 request line must fail as soon as it ends")
        }
        XCTAssertEqual(error, .invalidRequestLine)
    }

    func testControlCharacterAndFragmentInTarget() {
        assertFailure("GET /a\u{1}b HTTP/1.1\r\nHost: a\r\n\r\n", .invalidTarget, status: 400)
        assertFailure("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", .invalidTarget, status: 400)
    }

    func testAbsoluteFormRejected() {
        assertFailure("GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n", .absoluteForm, status: 400)
    }

    func testUnsupportedVersionIs505() {
        assertFailure("GET / HTTP/2.0\r\nHost: a\r\n\r\n", .unsupportedVersion, status: 505)
        assertFailure("GET / HTTP/0.9\r\nHost: a\r\n\r\n", .unsupportedVersion, status: 505)
    }

    func testMalformedVersionIs400() {
        assertFailure("GET / HTTX/1.1\r\nHost: a\r\n\r\n", .invalidVersion, status: 400)
        assertFailure("GET / HTTP/1.x\r\nHost: a\r\n\r\n", .invalidVersion, status: 400)
    }

    func testTooManyEmptyLeadingLines() {
        assertFailure(String(repeating: "\r\n", count: 20) + "GET / HTTP/1.1\r\n", .invalidRequestLine, status: 400)
    }

    // MARK: - Limits

    func testRequestLineTooLongComplete() {
        let parser = HTTPRequestParser(maxRequestLineBytes: 64)
        let text = "GET /" + String(repeating: "a", count: 100) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        assertFailure(Array(text.utf8), .requestLineTooLong, status: 414, parser: parser)
    }

    func testRequestLineTooLongBeforeItEnds() {
        let parser = HTTPRequestParser(maxRequestLineBytes: 64)
        let text = "GET /" + String(repeating: "a", count: 100)
        assertFailure(Array(text.utf8), .requestLineTooLong, status: 414, parser: parser)
    }

    func testTooManyHeaders() {
        let parser = HTTPRequestParser(maxHeaderCount: 3)
        let text = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
        assertFailure(Array(text.utf8), .tooManyHeaders, status: 431, parser: parser)
    }

    func testHeaderBlockTooLarge() {
        let parser = HTTPRequestParser(maxHeaderBytes: 100)
        let complete = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 200) + "\r\n\r\n"
        assertFailure(Array(complete.utf8), .headersTooLarge, status: 431, parser: parser)
        let partial = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 200)
        assertFailure(Array(partial.utf8), .headersTooLarge, status: 431, parser: parser)
    }

    func testLimitsAtExactBoundaryAccepted() {
        let line = "GET /" + String(repeating: "a", count: 50) + " HTTP/1.1"
        var parser = HTTPRequestParser(maxRequestLineBytes: line.utf8.count, maxHeaderBytes: 9, maxHeaderCount: 1)
        guard case .request = parser.parse(Array((line + "\r\nHost: a\r\n\r\n").utf8)) else {
            return XCTFail("boundary request refused")
        }
    }

    func testHeaderBlockAtLimitSplitBeforeFinalLFIsAccepted() {
        // Found by the fuzzer's split-read invariant: 24 header bytes with the final CR alone.
        let head = "GET / HTTP/1.0\r\nContent-Length: 000000\r\n"
        XCTAssertEqual(head.utf8.count - "GET / HTTP/1.0\r\n".utf8.count, 24)
        var parser = HTTPRequestParser(maxHeaderBytes: 24)
        guard case .needMoreData = parser.parse(Array((head + "\r").utf8)) else { return XCTFail("refused early") }
        guard case .request = parser.parse(Array((head + "\r\n").utf8)) else { return XCTFail("refused") }
    }

    // MARK: - Response encoding

    func testEncoderAddsLengthDateAndDropsReservedOrInvalidHeaders() {
        var out: [UInt8] = []
        let date = Array("Date: Tue, 25 Nov 2025 10:00:00 GMT\r\n".utf8)
        let response = HTTPResponse(
            status: 200,
            headers: [("Content-Type", "text/plain"), ("Content-Length", "99"), ("X-Evil", "a\r\nSet-Cookie: x"),
                      ("Bad Name", "v"), ("connection", "keep-alive")],
            body: Array("hello".utf8))
        let dropped = HTTPResponseEncoder.encode(response, omitBody: false, connection: .close, date: date, into: &out)
        XCTAssertEqual(dropped, ["Content-Length", "X-Evil", "Bad Name", "connection"])
        XCTAssertEqual(String(decoding: out, as: UTF8.self),
                       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                       + "Date: Tue, 25 Nov 2025 10:00:00 GMT\r\nConnection: close\r\n\r\nhello")
    }

    func testEncoderHeadAnd204() {
        var out: [UInt8] = []
        HTTPResponseEncoder.encode(HTTPResponse(status: 200, body: Array("12345678901".utf8)), omitBody: true,
                                   connection: .none, date: [], into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")
        out = []
        HTTPResponseEncoder.encode(HTTPResponse(status: 204, body: Array("x".utf8)), omitBody: false,
                                   connection: .keepAlive, date: [], into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n")
    }

    func testDateHeaderFormat() {
        XCTAssertEqual(String(decoding: HTTPDateCache.format(seconds: 1_764_064_800), as: UTF8.self),
                       "Date: Tue, 25 Nov 2025 10:00:00 GMT\r\n")
        XCTAssertEqual(String(decoding: HTTPDateCache.format(seconds: 0), as: UTF8.self),
                       "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n")
    }
}
