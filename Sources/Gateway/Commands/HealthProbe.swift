#if canImport(Glibc)
import Glibc
#endif
import Platform
import Crypto
import TOTP

/// `--healthcheck URL`: a one-shot `GET` used as the container health probe (the runtime image
/// has no curl). Plain `http://HOST:PORT/path` to an IP literal or `localhost`, 3 s at most;
/// exit 0 on a 200 status line. The gateway does not link libcurl, so this speaks HTTP itself.
///
/// ```sh
/// totp-gateway --healthcheck http://127.0.0.1:8080/healthz && echo healthy
/// ```
enum HealthProbe {
    /// Why the probe failed, printed on stderr.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func run(url: String) -> Int32 {
        do {
            let status = try get(url: url, timeoutMilliseconds: 3000)
            if status == 200 { return 0 }
            StandardError.print("healthcheck: \(url) answered \(status)")
        } catch {
            StandardError.print("healthcheck: \(url): \(error)")
        }
        return 1
    }

    /// Returns the response's status code.
    static func get(url: String, timeoutMilliseconds: Int32) throws -> Int {
        guard url.hasPrefix("http://") else { throw Failure(description: "only http:// URLs are supported") }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        let listen = try ListenAddress(parsing: authority, source: "URL")
        let host = listen.host == "localhost" ? "127.0.0.1" : listen.host
        let address = try SocketAddress(ipLiteral: host, port: listen.port)
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemError(call: "socket", errno: errno) }
        defer { Syscall.close(fd) }
        var storage = address.storage
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, address.length) }
        }
        if rc != 0 && errno != EINPROGRESS { throw SystemError(call: "connect", errno: errno) }
        try wait(fd, events: Int16(POLLOUT), timeoutMilliseconds)
        var soError: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
        if soError != 0 { throw SystemError(call: "connect", errno: soError) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(authority)\r\nUser-Agent: totp-gateway-healthcheck\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            try wait(fd, events: Int16(POLLOUT), timeoutMilliseconds)
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw SystemError(call: "send", errno: errno)
            }
            sent += n
        }
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while !head.contains(0x0A) && head.count < 4096 {
            try wait(fd, events: Int16(POLLIN), timeoutMilliseconds)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw SystemError(call: "recv", errno: errno)
            }
            if n == 0 { break }
            head += buffer[0..<n]
        }
        // "HTTP/1.1 200 OK": the status code is the second word of the first line.
        let line = String(decoding: head.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        let words = line.split(separator: " ")
        guard words.count >= 2, words[0].hasPrefix("HTTP/"), let status = Int(words[1]) else {
            throw Failure(description: "no HTTP status line in the answer")
        }
        return status
    }

    private static func wait(_ fd: Int32, events: Int16, _ timeoutMilliseconds: Int32) throws {
        var p = pollfd(fd: fd, events: events, revents: 0)
        let n = poll(&p, 1, timeoutMilliseconds)
        if n == 0 { throw Failure(description: "timed out after \(timeoutMilliseconds) ms") }
        if n < 0 && errno != EINTR { throw SystemError(call: "poll", errno: errno) }
    }
}
