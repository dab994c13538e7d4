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

/// The result of a non-blocking call: done, or it would have blocked.
public enum IOResult<T: Sendable>: Sendable {
    case done(T)
    case wouldBlock
}

/// One helper for every system call: retries `EINTR`, maps `EAGAIN` to `.wouldBlock`,
/// and throws a `SystemError` naming the call otherwise.
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

    /// Like `call`, but `EAGAIN`/`EWOULDBLOCK` become `.wouldBlock` instead of an error.
    @inline(__always)
    public static func nonBlocking<T: FixedWidthInteger & Sendable>(_ name: String, _ body: () -> T) throws(SystemError) -> IOResult<T> {
        while true {
            let result = body()
            if result == -1 {
                let err = Glibc.errno
                if err == EINTR { continue }
                if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
                throw SystemError(call: name, errno: err)
            }
            return .done(result)
        }
    }

    /// `close` is never retried on `EINTR`: on Linux the descriptor is gone either way.
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}
