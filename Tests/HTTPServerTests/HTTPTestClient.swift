#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import HTTPServer
@testable import Platform
import TextSupport

/// A response as read off the wire by `HTTPTestClient`.
struct HTTPTestResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { HTTPHeaders.sameName($0.0, name) }?.1
    }

    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

struct HTTPTestClientError: Error, CustomStringConvertible {
    let description: String
}

/// A tiny blocking raw-socket client for the server tests: every read and write is under a
/// socket timeout, so a broken server fails the test instead of hanging it.
final class HTTPTestClient {
    let fd: Int32
    private var pending: [UInt8] = []

    init(port: Int, host: String = "127.0.0.1", timeout: Double = 5) throws {
        let address = try SocketAddress(ipLiteral: host, port: port)
        fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPTestClientError(description: "socket: errno \(errno)") }
        setTimeout(timeout)
        var storage = address.storage
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, address.length) }
        }
        guard rc == 0 else {
            let err = errno
            Glibc.close(fd)
            throw HTTPTestClientError(description: "connect: errno \(err)")
        }
    }

    deinit { Glibc.close(fd) }

    func setTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw HTTPTestClientError(description: "send: errno \(errno)")
            }
            offset += n
        }
    }

    /// Reads more bytes into `pending`; false on EOF, throws on timeout or error.
    private func fill() throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                pending.append(contentsOf: buffer[0..<n])
                return true
            }
            if n == 0 { return false }
            if errno == EINTR { continue }
            throw HTTPTestClientError(description: errno == EAGAIN ? "read timed out" : "recv: errno \(errno)")
        }
    }

    /// Reads one response; `expectBody: false` for HEAD (Content-Length is then not followed).
    func readResponse(expectBody: Bool = true) throws -> HTTPTestResponse {
        let terminator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int? = nil
        while headEnd == nil {
            if let range = pending.firstRange(of: terminator) {
                headEnd = range.upperBound
                break
            }
            guard try fill() else {
                throw HTTPTestClientError(description: "connection closed before a response head (\(pending.count) bytes)")
            }
        }
        let head = String(decoding: pending[0..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
            throw HTTPTestClientError(description: "bad status line: \(statusLine)")
        }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw HTTPTestClientError(description: "bad header: \(line)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        pending.removeFirst(headEnd!)
        var response = HTTPTestResponse(status: status, headers: headers, body: [])
        let length = expectBody ? Int(response.header("Content-Length") ?? "0") ?? 0 : 0
        while pending.count < length {
            guard try fill() else { throw HTTPTestClientError(description: "connection closed inside a body") }
        }
        response.body = Array(pending[0..<length])
        pending.removeFirst(length)
        return response
    }

    /// True if the peer closes (EOF or reset) within `seconds`; bytes received meanwhile are kept.
    func waitForClose(within seconds: Double) -> Bool {
        setTimeout(seconds)
        defer { setTimeout(5) }
        while true {
            do {
                if try !fill() { return true }
            } catch let error as HTTPTestClientError {
                return !error.description.contains("timed out")
            } catch {
                return true
            }
        }
    }

    /// Bytes received but not consumed by `readResponse`.
    var unreadBytes: [UInt8] { pending }
}

/// Starts a server on 127.0.0.1 port 0 for a test; `stopNow` in the caller's `defer`.
func makeTestServer(
    _ configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    handler: @escaping HTTPHandler = { request in
        HTTPResponse(status: 200, headers: [("Content-Type", "application/json")],
                     body: Array("{\"path\":\"\(request.path)\"}".utf8))
    }
) throws -> (HTTPServer, Int) {
    var config = HTTPServerConfiguration()
    config.port = 0
    config.eventLoops = 2
    configure(&config)
    let server = HTTPServer(configuration: config, logger: Logger(component: "http-test", sink: .memory()), handler: handler)
    let port = try server.start()
    return (server, port)
}

/// Milliseconds on the monotonic clock.
func monotonicMilliseconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1_000_000
}
