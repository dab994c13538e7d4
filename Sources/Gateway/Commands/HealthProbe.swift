#if canImport(Glibc)
import Glibc
#endif
import Platform
import Crypto
import TOTP
import TLS

/// `--healthcheck URL`: a one-shot `GET` used as the container health probe (the runtime image
/// has no curl). `http://HOST:PORT/path` or `https://...` to an IP literal or `localhost`, 3 s
/// at most; exit 0 on a 200 status line. The gateway does not link libcurl, so this speaks HTTP
/// itself. Over `https://` it checks its own process's TLS listener with the gateway's settings
/// (`GATEWAY_TLS_CERT_FILE`, `GATEWAY_TLS_KEY_FILE`, or the `tls-cert`/`tls-key` credentials):
/// the server must show exactly that certificate, and the probe presents it as its client
/// certificate where the listener requires one (`TLSProbeClient`).
///
/// ```sh
/// totp-gateway --healthcheck http://127.0.0.1:8080/healthz && echo healthy
/// ```
enum HealthProbe {
    /// Why the probe failed, printed on stderr.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func run(url: String, environment: Environment = .current()) -> Int32 {
        do {
            var tls: TLSProbeClient? = nil
            if url.hasPrefix("https://") { tls = try probeClient(environment) }
            let status = try get(url: url, timeoutMilliseconds: 3000, tls: tls)
            if status == 200 { return 0 }
            StandardError.print("healthcheck: \(url) answered \(status)")
        } catch {
            StandardError.print("healthcheck: \(url): \(error)")
        }
        return 1
    }

    /// The TLS client for an `https://` probe, from the gateway's own TLS settings.
    private static func probeClient(_ environment: Environment) throws -> TLSProbeClient {
        let config: GatewayConfiguration
        do { config = try GatewayConfiguration.load(environment: environment, listenOverride: nil) } catch {
            throw Failure(description: "an https:// probe reads the gateway's TLS settings, which are refused:\n\(error.description)")
        }
        guard let files = config.tlsFiles else {
            throw Failure(description: "an https:// probe needs GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE (or the tls-cert and "
                + "tls-key credentials): it expects the gateway's own certificate; use http:// for a plain listener")
        }
        return try TLSProbeClient(files)
    }

    /// Returns the response's status code.
    static func get(url: String, timeoutMilliseconds: Int32, tls: TLSProbeClient? = nil) throws -> Int {
        let scheme = tls == nil ? "http://" : "https://"
        guard url.hasPrefix(scheme) else { throw Failure(description: "only http:// and https:// URLs are supported") }
        let rest = url.dropFirst(scheme.count)
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
        let session = try tls.map { probe in try handshake(probe, fd: fd, timeoutMilliseconds) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(authority)\r\nUser-Agent: totp-gateway-healthcheck\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            try wait(fd, events: Int16(POLLOUT), timeoutMilliseconds)
            let n = try request.withUnsafeBytes { bytes in
                try transfer(session, fd: fd, "send") { s in s.write(UnsafeRawBufferPointer(rebasing: bytes[sent...])) } plain: {
                    send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                }
            }
            sent += n ?? 0
        }
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while !head.contains(0x0A) && head.count < 4096 {
            try wait(fd, events: Int16(POLLIN), timeoutMilliseconds)
            let n = try buffer.withUnsafeMutableBytes { bytes in
                try transfer(session, fd: fd, "recv") { s in s.read(into: bytes) } plain: { recv(fd, bytes.baseAddress, bytes.count, 0) }
            }
            guard let n else { continue }
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

    /// Runs the TLS handshake to its end and checks the server's certificate.
    private static func handshake(_ probe: TLSProbeClient, fd: Int32, _ timeoutMilliseconds: Int32) throws -> TLSSession {
        guard let session = probe.makeSession(fd: fd) else { throw Failure(description: "OpenSSL is out of memory") }
        while true {
            switch session.handshake() {
            case .done:
                guard probe.verify(session) else {
                    throw Failure(description: "the server's certificate is not the gateway's own (GATEWAY_TLS_CERT_FILE): "
                        + "another program listens on this port")
                }
                return session
            case .wantRead: try wait(fd, events: Int16(POLLIN), timeoutMilliseconds)
            case .wantWrite: try wait(fd, events: Int16(POLLOUT), timeoutMilliseconds)
            case .failed: throw tlsFailure(session, "handshake")
            }
        }
    }

    /// One send or receive, over TLS when there is a session: the bytes moved (0: the peer
    /// closed), or nil when it must wait for the socket again.
    private static func transfer(
        _ session: TLSSession?, fd: Int32, _ call: String, tls: (TLSSession) -> TLSSession.Transfer, plain: () -> Int
    ) throws -> Int? {
        guard let session else {
            let n = plain()
            if n >= 0 { return n }
            if errno == EAGAIN || errno == EINTR { return nil }
            throw SystemError(call: call, errno: errno)
        }
        switch tls(session) {
        case .transferred(let n): return n
        case .wantRead, .wantWrite: return nil
        case .closed: return 0
        case .failed: throw tlsFailure(session, call)
        }
    }

    // With TLS 1.3 the server judges the client certificate after the client's side of the
    // handshake is done, so a refusal shows up at the first read, not in the handshake.
    private static func tlsFailure(_ session: TLSSession, _ step: String) -> Failure {
        Failure(description: "TLS \(step) failed (\(session.failureReason)); where the listener requires client certificates, "
            + "issue the gateway's certificate for clientAuth too (extendedKeyUsage serverAuth,clientAuth) from the CA in "
            + "GATEWAY_TLS_CLIENT_CA_FILE")
    }

    private static func wait(_ fd: Int32, events: Int16, _ timeoutMilliseconds: Int32) throws {
        var p = pollfd(fd: fd, events: events, revents: 0)
        let n = poll(&p, 1, timeoutMilliseconds)
        if n == 0 { throw Failure(description: "timed out after \(timeoutMilliseconds) ms") }
        if n < 0 && errno != EINTR { throw SystemError(call: "poll", errno: errno) }
    }
}
