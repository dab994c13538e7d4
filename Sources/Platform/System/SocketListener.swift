#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization

/// A non-blocking, close-on-exec TCP listening socket, and `accept4` on it.
///
/// ```swift
/// let listener = try SocketListener(address: SocketAddress(ipLiteral: "127.0.0.1", port: 0), backlog: 128)
/// listener.port          // the bound (possibly ephemeral) port
/// switch listener.accept() {
/// case .accepted(let fd, let peer): _ = (fd, peer.ipText)
/// default: break
/// }
/// listener.close()
/// ```
public final class SocketListener: Sendable {
    /// The listening descriptor (valid until `close()`).
    public let fd: Int32
    /// The bound port.
    public let port: Int
    private let closed = Atomic<Bool>(false)

    /// Creates, binds and listens. `SO_REUSEADDR` lets a restarted server bind while old
    /// connections sit in TIME_WAIT.
    public init(address: SocketAddress, backlog: Int) throws(SystemError) {
        let fd = try Syscall.call("socket") {
            socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            var one: Int32 = 1
            try Syscall.call("setsockopt(SO_REUSEADDR)") {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            var storage = address.storage
            try Syscall.call("bind") {
                withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, address.length) }
                }
            }
            try Syscall.call("listen") { Glibc.listen(fd, Int32(clamping: backlog)) }
            var bound = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            try Syscall.call("getsockname") {
                withUnsafeMutablePointer(to: &bound) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
                }
            }
            self.fd = fd
            self.port = SocketAddress(storage: bound, length: length).port
        } catch {
            // Half-finished setup must not leak the descriptor.
            Syscall.close(fd)
            throw error
        }
    }

    deinit { close() }

    /// Closes the socket once; later calls do nothing.
    public func close() {
        if closed.exchange(true, ordering: .acquiringAndReleasing) { return }
        Syscall.close(fd)
    }

    /// Accepts one connection as non-blocking and close-on-exec, with `TCP_NODELAY` set
    /// (responses are written whole, so Nagle would only add latency).
    public func accept() -> SocketAcceptResult {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    SocketListener.accept4(fd, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                }
            }
            if client >= 0 {
                var one: Int32 = 1
                _ = setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return .accepted(fd: client, peer: SocketAddress(storage: storage, length: length))
            }
            let err = errno
            switch err {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case EMFILE, ENFILE, ENOBUFS, ENOMEM: return .resourceExhausted(SystemError(call: "accept4", errno: err))
            // The peer gave up, or a network error was reported on the new socket: try the next one.
            case ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH,
                EOPNOTSUPP, ENETUNREACH:
                return .transient(SystemError(call: "accept4", errno: err))
            default: return .failed(SystemError(call: "accept4", errno: err))
            }
        }
    }

    private typealias Accept4 = @convention(c) (
        Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32
    ) -> Int32

    // Glibc declares accept4 only under _GNU_SOURCE, which neither Glibc nor the CSystem module
    // defines, so it is looked up once by name (it is in every glibc since 2.10).
    private static let accept4: Accept4 = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "accept4") else {
            fatalError("accept4 not found in libc")
        }
        return unsafeBitCast(symbol, to: Accept4.self)
    }()
}
