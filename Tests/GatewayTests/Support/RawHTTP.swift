import Foundation
import TextSupport

/// A minimal blocking HTTP/1.1 client over a real loopback socket, for tests: one request per
/// call (or several pipelined), every read under a timeout.
final class RawHTTP {
    struct Response {
        let status: Int
        let headers: [(String, String)]
        let body: Data
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
    }

    let fd: Int32

    /// `source`: the loopback address to connect from (127.0.0.2...), to act as another client.
    init(port: Int, timeout: TimeInterval = 5, source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let rc = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if rc != 0 {
                Glibc.close(fd)
                throw NSError(domain: "RawHTTP", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "bind \(source) failed: errno \(errno)"])
            }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc != 0 {
            Glibc.close(fd)
            throw NSError(domain: "RawHTTP", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "connect failed: errno \(errno)"])
        }
    }

    func close() { _ = Glibc.close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    private var pending = Data()

    /// Reads one response (status line, headers, Content-Length body; `head` = no body expected).
    func readResponse(head: Bool = false) -> Response? {
        var buffer = pending
        func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 16384)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return false }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
        var headerEnd: Range<Data.Index>? = buffer.range(of: Data("\r\n\r\n".utf8))
        while headerEnd == nil {
            guard fill() else { return nil }
            headerEnd = buffer.range(of: Data("\r\n\r\n".utf8))
        }
        let headText = String(decoding: buffer[..<headerEnd!.lowerBound], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        let status = statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0
        let headers = lines.compactMap { line -> (String, String)? in
            guard let c = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<c]), line[line.index(after: c)...].trimmingCharacters(in: .whitespaces))
        }
        let length = head ? 0 : Int(headers.first { $0.0.lowercased() == "content-length" }?.1 ?? "0") ?? 0
        let bodyStart = headerEnd!.upperBound
        while buffer.count - (bodyStart - buffer.startIndex) < length {
            guard fill() else { return nil }
        }
        let body = buffer[bodyStart..<(bodyStart + length)]
        pending = Data(buffer[(bodyStart + length)...])
        return Response(status: status, headers: headers, body: Data(body))
    }

    /// True when the peer has closed the connection (read returns 0 within the timeout).
    func peerClosed() -> Bool {
        var b: UInt8 = 0
        return recv(fd, &b, 1, 0) == 0
    }

    /// One request on a fresh connection.
    static func get(port: Int, _ target: String, headers: [String: String] = [:], method: String = "GET", source: String? = nil,
        timeout: TimeInterval = 5) -> Response?
    {
        guard let c = try? RawHTTP(port: port, timeout: timeout, source: source) else { return nil }
        defer { c.close() }
        var req = "\(method) \(target) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        for (k, v) in headers { req += "\(k): \(v)\r\n" }
        c.send(req + "\r\n")
        return c.readResponse(head: method == "HEAD")
    }
}
