import Foundation

/// A datagram socket standing in for systemd's NOTIFY_SOCKET: collects what a gateway or bot
/// under test sends (READY=1, WATCHDOG=1, STOPPING=1).
public final class NotifySocket {
    public let path: String
    let fd: Int32

    public init(path: String) throws {
        self.path = path
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in raw.copyBytes(from: Array(path.utf8).prefix(raw.count - 1)) }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else {
            close(fd)
            throw NSError(domain: "NotifySocket", code: Int(errno))
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Messages received until one satisfies `done` (included) or `timeout` passes.
    public func collect(until done: (String) -> Bool, timeout: TimeInterval) -> [String] {
        var out: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { continue }
            let message = String(decoding: buffer[0..<n], as: UTF8.self)
            out.append(message)
            if done(message) { break }
        }
        return out
    }

    /// Messages received within `seconds`.
    public func collect(for seconds: TimeInterval) -> [String] {
        var out: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { out.append(String(decoding: buffer[0..<n], as: UTF8.self)) }
        }
        return out
    }
}
