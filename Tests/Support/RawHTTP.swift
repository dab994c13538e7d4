import Foundation

/// The raw HTTP/1.1 test client, over a real blocking socket to a loopback server (IPv4 or
/// IPv6): requests are sent as the test writes them (pipelined, split, malformed...), responses
/// are read one at a time, and every read and write is under a socket timeout, so a broken
/// server fails the test instead of hanging it.
///
/// ```swift
/// let client = try RawHTTP(port: port)
/// try client.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
/// let response = try client.readResponse()
/// response.status                     // 200
/// client.waitForClose(within: 3)      // false: keep-alive
/// RawHTTP.get(port: port, "/healthz")?.status   // one request on a fresh connection
/// ```
public final class RawHTTP {
    /// A response as read off the wire.
    public struct Response {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]

        /// The first header named `name`, case-insensitively.
        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        public var bodyText: String { String(decoding: body, as: UTF8.self) }

        /// The body as a JSON object; empty when it is not one.
        public var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]) ?? [:] }
    }

    /// Why a call failed: the connection broke, timed out, or the server sent something that is
    /// not an HTTP/1.x response.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let fd: Int32
    private var pending: [UInt8] = []
    private var closed = false

    /// Connects to `host:port`. `source`: the IPv4 loopback address to connect from
    /// (127.0.0.2...), to act as another client.
    public init(port: Int, host: String = "127.0.0.1", timeout: Double = 5, source: String? = nil) throws {
        let ipv6 = host.contains(":")
        fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        setTimeout(timeout)
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            guard Self.withAddress(&local, { bind(fd, $0, $1) }) == 0 else { throw Failure(description: "bind \(source): errno \(errno)") }
        }
        let rc: Int32
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { throw Failure(description: "not an IPv6 literal: \(host)") }
            rc = Self.withAddress(&address) { connect(fd, $0, $1) }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr(host)
            rc = Self.withAddress(&address) { connect(fd, $0, $1) }
        }
        guard rc == 0 else { throw Failure(description: "connect to \(host) port \(port): errno \(errno)") }
    }

    // Also after a failed init: the socket is closed either way.
    deinit { close() }

    /// Closes the socket; later calls do nothing.
    public func close() {
        guard !closed else { return }
        closed = true
        _ = Glibc.close(fd)
    }

    private static func withAddress<A>(_ address: inout A, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<A>.size)) }
        }
    }

    /// Sets the receive and send timeouts of the socket.
    public func setTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "send: errno \(errno)")
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
            throw Failure(description: errno == EAGAIN ? "read timed out" : "recv: errno \(errno)")
        }
    }

    /// Reads one response. `head`: the answer to a HEAD request, whose `Content-Length` is not
    /// followed by a body.
    public func readResponse(head: Bool = false) throws -> Response {
        let terminator: [UInt8] = [13, 10, 13, 10]
        var headEnd = 0
        while true {
            if let range = pending.firstRange(of: terminator) {
                headEnd = range.upperBound
                break
            }
            guard try fill() else {
                throw Failure(description: "connection closed before a response head (\(pending.count) bytes)")
            }
        }
        var lines = String(decoding: pending[0..<headEnd], as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw Failure(description: "bad status line: \(statusLine)")
        }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw Failure(description: "bad header: \(line)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        pending.removeFirst(headEnd)
        var response = Response(status: status, headers: headers, body: [])
        let length = head ? 0 : Int(response.header("Content-Length") ?? "0") ?? 0
        while pending.count < length {
            guard try fill() else { throw Failure(description: "connection closed inside a body") }
        }
        response.body = Array(pending[0..<length])
        pending.removeFirst(length)
        return response
    }

    /// True if the peer closes (EOF or reset) within `seconds`; bytes received meanwhile are
    /// kept in `unreadBytes`.
    public func waitForClose(within seconds: Double) -> Bool {
        setTimeout(seconds)
        defer { setTimeout(5) }
        while true {
            do {
                if try !fill() { return true }
            } catch let failure as Failure {
                return !failure.description.contains("timed out")
            } catch {
                return true
            }
        }
    }

    /// True when the next read finds EOF, before any byte and within the socket timeout: the
    /// peer closed without sending anything more.
    public func peerClosed() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }

    /// Bytes received but not consumed by `readResponse`.
    public var unreadBytes: [UInt8] { pending }

    /// One request on a fresh connection (`Connection: close`); nil when it fails.
    public static func get(
        port: Int, _ target: String, headers: [String: String] = [:], method: String = "GET", source: String? = nil,
        timeout: Double = 5
    ) -> Response? {
        guard let client = try? RawHTTP(port: port, timeout: timeout, source: source) else { return nil }
        var request = "\(method) \(target) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        guard (try? client.send(request + "\r\n")) != nil else { return nil }
        return try? client.readResponse(head: method == "HEAD")
    }
}
