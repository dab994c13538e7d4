#if canImport(Glibc)
import Glibc
#endif
import CCurl
import Synchronization
import Platform

/// Stops a streaming exchange (`HTTPClient.stream`) from another thread, at once even while curl
/// is waiting for data: it shuts down the exchange's socket, which wakes curl's `poll`. Once
/// cancelled it stays cancelled, so a loop that reuses it for its next stream ends too.
///
/// ```swift
/// let cancellation = HTTPCancellation()
/// spawnThread { _ = try? http.stream(watchRequest, cancellation: cancellation) { _, bytes in true } }
/// cancellation.cancel()   // the stream returns with `.cancelled`
/// ```
public final class HTTPCancellation: Sendable {
    private struct State {
        var cancelled = false
        /// Sockets curl opened for exchanges under this cancellation and has not closed yet.
        var sockets: Set<Int32> = []
    }

    private let state = Mutex(State())

    public init() {}

    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    public func cancel() {
        state.withLock { state in
            state.cancelled = true
            // shutdown, not close: the descriptor stays curl's to close (see `closing`).
            for fd in state.sockets { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// curl created `fd`; false when already cancelled (curl then abandons the connection).
    private func opened(_ fd: Int32) -> Bool {
        state.withLock { state in
            if state.cancelled { return false }
            state.sockets.insert(fd)
            return true
        }
    }

    /// Closes `fd` for curl. Under the lock, so `cancel` can never shut down a descriptor number
    /// that was closed and reused by someone else in the meantime.
    private func closing(_ fd: Int32) {
        state.withLock { state in
            state.sockets.remove(fd)
            _ = close(fd)
        }
    }

    /// `curl_sockopt_callback`: called with each new socket before it connects.
    static let sockoptCallback: @convention(c) (UnsafeMutableRawPointer?, curl_socket_t, curlsocktype) -> Int32 = {
        userdata, fd, _ in
        guard let userdata else { return 0 }
        let cancellation = Unmanaged<HTTPCancellation>.fromOpaque(userdata).takeUnretainedValue()
        return cancellation.opened(fd) ? 0 : 1  // CURL_SOCKOPT_OK / CURL_SOCKOPT_ERROR
    }

    /// `curl_closesocket_callback`: curl hands every socket it created back here to be closed.
    static let closeSocketCallback: @convention(c) (UnsafeMutableRawPointer?, curl_socket_t) -> Int32 = {
        userdata, fd in
        guard let userdata else { return close(fd) }
        Unmanaged<HTTPCancellation>.fromOpaque(userdata).takeUnretainedValue().closing(fd)
        return 0
    }

    /// `curl_xferinfo_callback`: a backstop for phases a shutdown does not interrupt (a TCP
    /// connect in progress); curl calls it at least once a second. Non-zero aborts.
    static let progressCallback: @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> Int32 = {
        userdata, _, _, _, _ in
        guard let userdata else { return 0 }
        return Unmanaged<HTTPCancellation>.fromOpaque(userdata).takeUnretainedValue().isCancelled ? 1 : 0
    }
}
