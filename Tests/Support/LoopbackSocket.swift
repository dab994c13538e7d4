import Foundation

/// TCP sockets on 127.0.0.1 at a port the kernel picks (bound to port 0, read back), for test
/// servers and for ports that must refuse connections. A port is never chosen first and bound
/// later, so no other test can take it in between.
///
/// ```swift
/// let (fd, port) = try LoopbackSocket.bind(listening: 16)   // a listener on a fresh port
/// let dead = try ReservedPort()                              // connects to dead.port fail
/// ```
public enum LoopbackSocket {
    /// Why a socket could not be made.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A close-on-exec TCP socket bound to 127.0.0.1 port 0, listening with `backlog` unless it
    /// is nil, and the port the kernel gave it. `reuseAddress`: set `SO_REUSEADDR` first.
    public static func bind(listening backlog: Int32?, reuseAddress: Bool = false) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        if reuseAddress {
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, length) == 0 && (backlog.map { listen(fd, $0) == 0 } ?? true)
                    && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            let err = errno
            close(fd)
            throw Failure(description: "bind/listen on 127.0.0.1:0: errno \(err)")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}
