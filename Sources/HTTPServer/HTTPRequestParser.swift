/// Incremental, allocation-light HTTP/1.x request-head parser over raw bytes. It depends on the
/// Swift standard library only, so the fuzz target compiles it directly.
///
/// Feed it the unconsumed bytes of a connection, starting at the current request; when it
/// answers `.needMoreData`, append what arrives next and call again with the whole buffer
/// (it remembers how far it scanned, so each byte is examined about twice in total).
///
/// Strictness, chosen to rule out request smuggling and to fail fast:
/// lines must end in CRLF (a bare LF or bare CR is a `400`), folded lines, whitespace before a
/// colon, control characters in values, `Transfer-Encoding`, repeated or non-numeric
/// `Content-Length`, a missing or repeated `Host` on HTTP/1.1 and absolute-form targets are all
/// `400`; any body (`Content-Length` > 0) is `413`. Up to 8 empty lines before a request line are
/// skipped (RFC 9112 2.2). The request line is checked as soon as it ends, so a line without a
/// version (HTTP/0.9's `GET /`) is refused at once rather than left waiting for headers.
///
/// ```swift
/// var parser = HTTPRequestParser()
/// let bytes = Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
/// if case .request(let request, let consumed, _) = parser.parse(bytes) {
///     request.path   // "/healthz"; consumed == bytes.count
/// }
/// ```
public struct HTTPRequestParser: Sendable {
    public let maxRequestLineBytes: Int
    public let maxHeaderBytes: Int
    public let maxHeaderCount: Int

    // Scan state, relative to the start of the buffer (the start of the current request).
    private var scanned = 0
    private var lineStart = 0
    private var headStart = 0
    /// Index just after the request line's CRLF, or -1 while the request line is incomplete.
    private var headersStart = -1
    private var headerCount = 0
    private var emptyLines = 0
    /// The checked request line's parts, valid once `headersStart >= 0`.
    private var requestLine = RequestLine()

    /// Where the parts of a checked request line end, relative to the buffer start; the method
    /// starts at `headStart` and the target one byte after `methodEnd`.
    private struct RequestLine {
        var methodEnd = 0
        var targetEnd = 0
        /// The first `?` of the target, or -1.
        var questionMark = -1
        var version = HTTPVersion.http1_1
    }

    private static let maxLeadingEmptyLines = 8

    public init(maxRequestLineBytes: Int = 8192, maxHeaderBytes: Int = 16384, maxHeaderCount: Int = 100) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
    }

    /// Forgets a partial scan (after a connection is reset or an error was answered).
    public mutating func reset() {
        scanned = 0
        lineStart = 0
        headStart = 0
        headersStart = -1
        headerCount = 0
        emptyLines = 0
    }

    /// Parses the request at the start of `bytes`.
    public mutating func parse(_ bytes: [UInt8]) -> HTTPParseResult {
        bytes.withUnsafeBytes { parse($0) }
    }

    /// Parses the request at the start of `buffer`, which must begin where the previous call's
    /// buffer began (after `.needMoreData`) and hold at least as many bytes.
    public mutating func parse(_ buffer: UnsafeRawBufferPointer) -> HTTPParseResult {
        let n = buffer.count
        if scanned > n { reset() }  // misuse: start over rather than read out of bounds
        var i = scanned
        while i < n {
            let b = buffer[i]
            if b == Ascii.lf {
                if i == lineStart || buffer[i - 1] != Ascii.cr { return fail(.bareLF) }
                let lineLength = i - 1 - lineStart
                if headersStart < 0 {
                    if lineLength == 0 {
                        emptyLines += 1
                        if emptyLines > HTTPRequestParser.maxLeadingEmptyLines { return fail(.invalidRequestLine) }
                        headStart = i + 1
                    } else {
                        if lineLength > maxRequestLineBytes { return fail(.requestLineTooLong) }
                        if let error = checkRequestLine(buffer, end: i - 1) { return fail(error) }
                        headersStart = i + 1
                    }
                } else if lineLength == 0 {
                    let result = parseHead(buffer, end: i + 1)
                    reset()
                    return result
                } else {
                    headerCount += 1
                    if headerCount > maxHeaderCount { return fail(.tooManyHeaders) }
                    if i + 1 - headersStart > maxHeaderBytes { return fail(.headersTooLarge) }
                }
                lineStart = i + 1
            } else if b == Ascii.cr {
                if i + 1 == n { break }  // wait for the byte after the CR
                if buffer[i + 1] != Ascii.lf { return fail(.bareCR) }
            } else if i == lineStart && headersStart < 0 && !Ascii.isTchar(b) {
                // A request line must start with a method token: reject binary junk (a TLS
                // ClientHello, say) at once instead of waiting for a line end.
                return fail(.invalidMethod)
            }
            i += 1
        }
        scanned = i
        if headersStart < 0 {
            if n - lineStart > maxRequestLineBytes + 1 { return fail(.requestLineTooLong) }
        } else if n - headersStart > maxHeaderBytes + 1 {
            // +1: the CR of the final empty line may be here without its LF; a split read must
            // not refuse a head that arriving whole would be accepted.
            return fail(.headersTooLarge)
        }
        return .needMoreData
    }

    private mutating func fail(_ error: HTTPParseError) -> HTTPParseResult {
        reset()
        return .failure(error)
    }

    // MARK: - Request line

    /// Checks the request line `[headStart, lineEnd)` (its CRLF excluded) and records where its
    /// parts are: method token and one space, target of visible ASCII without a fragment, one
    /// space, `HTTP/d.d` and nothing after it. Returns the error to answer, or nil.
    private mutating func checkRequestLine(_ p: UnsafeRawBufferPointer, end lineEnd: Int) -> HTTPParseError? {
        var i = headStart
        while i < lineEnd && Ascii.isTchar(p[i]) { i += 1 }
        if i == headStart || i >= lineEnd || p[i] != Ascii.sp { return .invalidMethod }
        let methodEnd = i
        i += 1

        let targetStart = i
        var questionMark = -1
        while i < lineEnd && p[i] != Ascii.sp {
            let c = p[i]
            if c < 0x21 || c > 0x7E || c == Ascii.hash { return .invalidTarget }
            if c == Ascii.question && questionMark < 0 { questionMark = i }
            i += 1
        }
        // No space after the target: an HTTP/0.9 request line (`GET /`), or a double space.
        if i == targetStart || i >= lineEnd { return .invalidRequestLine }
        let targetEnd = i
        i += 1

        guard lineEnd - i == 8, p[i] == 0x48, p[i + 1] == 0x54, p[i + 2] == 0x54, p[i + 3] == 0x50,
            p[i + 4] == Ascii.slash, Ascii.isDigit(p[i + 5]), p[i + 6] == Ascii.dot, Ascii.isDigit(p[i + 7])
        else { return .invalidVersion }
        guard p[i + 5] == Ascii.one else { return .unsupportedVersion }
        if p[targetStart] != Ascii.slash && !(targetEnd - targetStart == 1 && p[targetStart] == Ascii.star) {
            return .absoluteForm
        }
        requestLine = RequestLine(
            methodEnd: methodEnd, targetEnd: targetEnd, questionMark: questionMark,
            version: p[i + 7] == Ascii.zero ? .http1_0 : .http1_1)
        return nil
    }

    // MARK: - Complete head

    /// Parses `[headStart, end)`; phase one checked the request line and guaranteed every CR is
    /// followed by LF and vice versa.
    private func parseHead(_ p: UnsafeRawBufferPointer, end: Int) -> HTTPParseResult {
        let methodEnd = requestLine.methodEnd
        let methodLength = methodEnd - headStart
        let method: HTTPMethod
        if methodLength == 3 && p[headStart] == 0x47 && p[headStart + 1] == 0x45 && p[headStart + 2] == 0x54 {
            method = .get
        } else if methodLength == 4 && p[headStart] == 0x48 && p[headStart + 1] == 0x45
            && p[headStart + 2] == 0x41 && p[headStart + 3] == 0x44
        {
            method = .head
        } else {
            method = .other(Self.string(p, headStart, methodEnd))
        }
        let targetStart = methodEnd + 1
        let targetEnd = requestLine.targetEnd
        let questionMark = requestLine.questionMark
        let version = requestLine.version

        let path: String
        let query: String?
        if p[targetStart] == Ascii.star {
            path = "*"
            query = nil
        } else if questionMark >= 0 {
            path = Self.string(p, targetStart, questionMark)
            query = Self.string(p, questionMark + 1, targetEnd)
        } else {
            path = Self.string(p, targetStart, targetEnd)
            query = nil
        }

        // Header fields: validated here, kept as positions in one copy of the header block;
        // strings are made only for the fields a handler asks for.
        var spans: [HTTPHeaders.Span] = []
        spans.reserveCapacity(headerCount)
        var contentLengthCount = 0
        var contentLength = 0
        var hostCount = 0
        var sawTransferEncoding = false
        var connectionClose = false
        var connectionKeepAlive = false
        var ls = headersStart
        let headEnd = end - 2
        while ls < headEnd {
            var le = ls
            while p[le] != Ascii.cr { le += 1 }
            let first = p[ls]
            if first == Ascii.sp || first == Ascii.tab { return .failure(.obsFold) }
            var colon = ls
            while colon < le && Ascii.isTchar(p[colon]) { colon += 1 }
            if colon == le { return .failure(.invalidHeaderName) }
            if p[colon] != Ascii.colon {
                let c = p[colon]
                return .failure(c == Ascii.sp || c == Ascii.tab ? .whitespaceBeforeColon : .invalidHeaderName)
            }
            if colon == ls { return .failure(.invalidHeaderName) }
            var vs = colon + 1
            while vs < le && (p[vs] == Ascii.sp || p[vs] == Ascii.tab) { vs += 1 }
            var ve = le
            while ve > vs && (p[ve - 1] == Ascii.sp || p[ve - 1] == Ascii.tab) { ve -= 1 }
            var k = vs
            while k < ve {
                let c = p[k]
                if (c < 0x20 && c != Ascii.tab) || c == 0x7F { return .failure(.invalidHeaderValue) }
                k += 1
            }

            let nameLength = colon - ls
            if nameLength == 4 && Self.nameIs(p, ls, Names.host) {
                hostCount += 1
            } else if nameLength == 14 && Self.nameIs(p, ls, Names.contentLength) {
                contentLengthCount += 1
                guard ve > vs, ve - vs <= 18 else { return .failure(.invalidContentLength) }
                var value = 0
                for j in vs..<ve {
                    guard Ascii.isDigit(p[j]) else { return .failure(.invalidContentLength) }
                    value = value * 10 + Int(p[j] &- Ascii.zero)
                }
                contentLength = value
            } else if nameLength == 17 && Self.nameIs(p, ls, Names.transferEncoding) {
                sawTransferEncoding = true
            } else if nameLength == 10 && Self.nameIs(p, ls, Names.connection) {
                Self.scanConnectionTokens(p, vs, ve, close: &connectionClose, keepAlive: &connectionKeepAlive)
            }
            let base = headersStart
            spans.append(HTTPHeaders.Span(
                nameStart: Int32(ls - base), nameEnd: Int32(colon - base), valueStart: Int32(vs - base), valueEnd: Int32(ve - base)))
            ls = le + 2
        }

        if sawTransferEncoding { return .failure(.transferEncoding) }
        if contentLengthCount > 1 { return .failure(.multipleContentLength) }
        if hostCount > 1 { return .failure(.multipleHost) }
        if version == .http1_1 && hostCount == 0 { return .failure(.missingHost) }
        if contentLength > 0 { return .failure(.bodyNotAllowed) }

        let keepAlive = version == .http1_1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        let block = spans.isEmpty ? [] : Array(UnsafeRawBufferPointer(rebasing: p[headersStart..<headEnd]))
        let request = HTTPRequest(
            method: method, path: path, query: query, version: version, headers: HTTPHeaders(bytes: block, spans: spans))
        return .request(request, consumed: end, keepAlive: keepAlive)
    }

    @inline(__always)
    private static func string(_ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: p[start..<end]), as: UTF8.self)
    }

    /// Compares a header name with a lowercase literal. `| 0x20` folds ASCII letters only;
    /// the literals hold letters and '-', and names are tokens, so nothing else can alias.
    @inline(__always)
    private static func nameIs(_ p: UnsafeRawBufferPointer, _ start: Int, _ lower: [UInt8]) -> Bool {
        for k in 0..<lower.count where p[start + k] | 0x20 != lower[k] { return false }
        return true
    }

    /// Reads the comma-separated `Connection` tokens for `close` and `keep-alive`.
    private static func scanConnectionTokens(
        _ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int, close: inout Bool, keepAlive: inout Bool
    ) {
        var ts = start
        while ts < end {
            var te = ts
            while te < end && p[te] != Ascii.comma { te += 1 }
            var a = ts
            var b = te
            while a < b && (p[a] == Ascii.sp || p[a] == Ascii.tab) { a += 1 }
            while b > a && (p[b - 1] == Ascii.sp || p[b - 1] == Ascii.tab) { b -= 1 }
            if b - a == 5 && nameIs(p, a, Names.close) { close = true }
            if b - a == 10 && nameIs(p, a, Names.keepAlive) { keepAlive = true }
            ts = te + 1
        }
    }

    /// Header names the parser checks, as bytes.
    private enum Names {
        // The fields the parser enforces rules on.
        static let host: [UInt8] = Array("host".utf8), contentLength: [UInt8] = Array("content-length".utf8)
        static let transferEncoding: [UInt8] = Array("transfer-encoding".utf8), connection: [UInt8] = Array("connection".utf8)
        // The `Connection` tokens that decide keep-alive.
        static let close: [UInt8] = Array("close".utf8), keepAlive: [UInt8] = Array("keep-alive".utf8)
    }
}

/// Byte constants and classes used by the parser.
enum Ascii {
    // Line ends and whitespace.
    static let cr: UInt8 = 0x0D, lf: UInt8 = 0x0A, sp: UInt8 = 0x20, tab: UInt8 = 0x09
    // Separators in header fields and request targets.
    static let colon: UInt8 = 0x3A, comma: UInt8 = 0x2C, slash: UInt8 = 0x2F, dot: UInt8 = 0x2E
    static let star: UInt8 = 0x2A, hash: UInt8 = 0x23, question: UInt8 = 0x3F
    // Digits of `HTTP/1.x`.
    static let zero: UInt8 = 0x30, one: UInt8 = 0x31

    @inline(__always)
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// RFC 9110 `tchar`: ALPHA / DIGIT / "!#$%&'*+-.^_`|~", as two 64-bit masks (no table lookup
    /// through a lazily initialised global in the hot loop).
    @inline(__always)
    static func isTchar(_ c: UInt8) -> Bool {
        if c < 64 { return (0x03FF_6CFA_0000_0000 as UInt64) >> UInt64(c) & 1 == 1 }
        if c < 128 { return (0x57FF_FFFF_C7FF_FFFE as UInt64) >> UInt64(c - 64) & 1 == 1 }
        return false
    }
}
