#if canImport(Glibc)
import Glibc
#endif

/// An `errno` failure of a named system call.
///
/// ```swift
/// let fd = try Syscall.call("socket") { socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
/// ```
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The system call that failed, e.g. `"bind"`.
    public let call: String
    /// The `errno` value it left.
    public let errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// One helper for every system call: retries `EINTR` and throws a `SystemError` naming the call
/// otherwise. (Calls on non-blocking sockets, where `EAGAIN` is an answer rather than an error,
/// go through their owners: `SocketListener.accept`, the HTTP server's `HTTPTransport`.)
public enum Syscall {
    /// Calls `body` until it does not fail with `EINTR`; throws on `-1`.
    @inline(__always)
    @discardableResult
    public static func call<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws(SystemError) -> T {
        while true {
            let result = body()
            if result == -1 {
                let err = Glibc.errno
                if err == EINTR { continue }
                throw SystemError(call: name, errno: err)
            }
            return result
        }
    }

    /// `close` is never retried on `EINTR`: on Linux the descriptor is gone either way.
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}
