// libFuzzer target for the HTTP request parser. Built by scripts/fuzz-http together with the
// parser's own files (which depend on the standard library only), not by SwiftPM.
//
// Invariants checked on every input (a violation traps, which libFuzzer reports as a crash):
// - parsing never crashes and never reports consuming more bytes than it was given;
// - feeding the input in two pieces (split point taken from the input) gives the same request
//   as feeding it whole, and a failure whole is a failure split;
// - a parsed request serialised with `serializedHead()` parses back to an equal request;
// - pipelined parsing of the whole input always makes progress and stays in bounds;
// - no request smuggling shape is ever accepted: an accepted request carries no
//   Transfer-Encoding, at most one Content-Length and that one is 0, exactly one Host on
//   HTTP/1.1 (at most one on 1.0), and a method, target and header names free of whitespace.

#if canImport(Glibc)
import Glibc
#endif

/// `precondition` drops its message in -O builds; this one prints it before trapping.
private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition {
        fputs("fuzz invariant violated: \(message())\n", stderr)
        fatalError()
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func httpParserFuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    // Small limits make the limit paths reachable with small inputs; defaults check the rest.
    let limitSets = [
        (line: 16, bytes: 24, count: 2),
        (line: 64, bytes: 128, count: 4),
        (line: 8192, bytes: 16384, count: 100),
    ]
    for limits in limitSets {
        let make = {
            HTTPRequestParser(maxRequestLineBytes: limits.line, maxHeaderBytes: limits.bytes, maxHeaderCount: limits.count)
        }
        var whole = make()
        let wholeResult = whole.parse(input)
        checkConsumed(wholeResult, size)

        // Same bytes in two reads.
        if size > 1 {
            let split = 1 + Int(input[0]) % (size - 1)
            var pieces = make()
            var splitResult = pieces.parse(UnsafeRawBufferPointer(rebasing: input[0..<split]))
            if case .needMoreData = splitResult { splitResult = pieces.parse(input) }
            checkConsumed(splitResult, size)
            switch (wholeResult, splitResult) {
            case (.request(let a, let ca, let ka), .request(let b, let cb, let kb)):
                check(ca == cb && ka == kb, "split parse consumed or keep-alive differ")
                check(same(a, b), "split parse gave a different request")
            case (.needMoreData, .needMoreData), (.failure, .failure):
                break
            default:
                check(false, "split parse disagrees with whole parse: \(wholeResult) vs \(splitResult)")
            }
        }

        if case .request(let request, _, let keepAlive) = wholeResult {
            let bytes = request.serializedHead()
            var again = HTTPRequestParser(maxRequestLineBytes: 1 << 20, maxHeaderBytes: 1 << 22, maxHeaderCount: 1 << 16)
            switch again.parse(bytes) {
            case .request(let reparsed, let consumed, let keepAlive2):
                check(consumed == bytes.count, "re-parse consumed \(consumed) of \(bytes.count)")
                check(keepAlive == keepAlive2, "keep-alive changed on re-parse")
                check(same(request, reparsed), "re-parse gave a different request")
            case .needMoreData:
                check(false, "serialised head is incomplete")
            case .failure(let error):
                check(false, "serialised head refused: \(error)")
            }
            _ = request.queryItems()
            checkNotSmuggling(request)
        }

        // Pipelined: walk every request in the input.
        var pipeline = make()
        var offset = 0
        var rounds = 0
        while offset < size && rounds < 1000 {
            rounds += 1
            guard case .request(_, let consumed, _) = pipeline.parse(UnsafeRawBufferPointer(rebasing: input[offset...]))
            else { break }
            check(consumed > 0 && offset + consumed <= size, "pipelined consumed out of bounds")
            offset += consumed
        }
    }
    return 0
}

private func checkNotSmuggling(_ request: HTTPRequest) {
    check(request.headers.values("transfer-encoding").isEmpty, "accepted a request with Transfer-Encoding")
    let lengths = request.headers.values("content-length")
    check(lengths.count <= 1, "accepted \(lengths.count) Content-Length fields")
    check(lengths.allSatisfy { $0 == "0" || ($0.utf8.allSatisfy { $0 == 0x30 } && !$0.isEmpty) }, "accepted a body length \(lengths)")
    let hosts = request.headers.values("host").count
    check(request.version == .http1_1 ? hosts == 1 : hosts <= 1, "accepted \(hosts) Host fields")
    for field in request.headers {
        check(!field.name.isEmpty && !field.name.utf8.contains { $0 <= 0x20 || $0 == 0x3A || $0 >= 0x7F }, "accepted header name \(field.name.utf8.count) bytes with whitespace, colon or non-ASCII")
        check(!field.value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }, "accepted CR, LF or NUL in a header value")
    }
    check(!request.path.utf8.contains { $0 <= 0x20 || $0 == 0x7F }, "accepted whitespace or control bytes in the target")
}

private func checkConsumed(_ result: HTTPParseResult, _ size: Int) {
    if case .request(_, let consumed, _) = result {
        check(consumed > 0 && consumed <= size, "consumed \(consumed) of \(size) bytes")
    }
}

private func same(_ a: HTTPRequest, _ b: HTTPRequest) -> Bool {
    a.method == b.method && a.path == b.path && a.query == b.query && a.version == b.version && a.headers == b.headers
}
