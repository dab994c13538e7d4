import Platform

/// Per-connection state of an event loop: small on purpose (no preallocated buffers; `input`
/// and `output` hold bytes only while a request is split across reads or a response is
/// blocked on a slow peer). Owned and touched by one event-loop thread only.
///
/// ```swift
/// let connection = HTTPConnection(fd: fd, remoteAddress: "127.0.0.1", parser: HTTPRequestParser())
/// connection.state   // .awaitingRequest
/// ```
final class HTTPConnection {
    /// Where the connection is in its request/response cycle.
    enum State {
        /// No request bytes yet: idle keep-alive (or a fresh connection before its first byte).
        case awaitingRequest
        /// Part of a request head has arrived; `headDeadline` applies.
        case readingHead
        /// `output` holds bytes the peer has not taken yet; EPOLLOUT is armed instead of EPOLLIN.
        case writing
        /// The final response was sent and our side shut down; unread input is drained for a
        /// moment so that closing does not reset the connection before the peer read it.
        case lingering
    }

    let fd: Int32
    let remoteAddress: String
    var state: State = .awaitingRequest
    /// Monotonic deadline (ns) of the current state, except `.readingHead` which uses `headDeadline`.
    var deadline: UInt64 = 0
    /// Monotonic deadline (ns) for the request head in progress; 0 when none is in progress.
    var headDeadline: UInt64 = 0
    var parser: HTTPRequestParser
    /// Received bytes not consumed yet (a partial head, or heads left for the next batch).
    var input: [UInt8] = []
    /// Response bytes not written yet, from `outputOffset` on.
    var output: [UInt8] = []
    var outputOffset = 0
    /// Close once the pending responses are written (error, HTTP/1.0, `Connection: close`, drain).
    var closeAfterWrite = false
    /// Linger (half-close, then drain input briefly) instead of closing at once.
    var lingerAfterWrite = false
    /// `input` holds complete requests left over because one batch's output reached its cap.
    var hasUnprocessedInput = false
    var requestsServed = 0
    /// Requests handled whose responses are not fully written yet.
    var inFlight = 0
    var isClosed = false
    /// Counted against the per-client limit (released on close).
    var countedForClient = false
    /// Monotonic time (ns) of the last byte read or response written: picks the connection
    /// idle longest when one must make room at the connection cap.
    var lastActivity: UInt64 = 0

    init(fd: Int32, remoteAddress: String, parser: HTTPRequestParser) {
        self.fd = fd
        self.remoteAddress = remoteAddress
        self.parser = parser
    }

    deinit {
        assert(isClosed, "HTTPConnection for fd \(fd) released without being closed")
    }
}

@available(*, unavailable)
extension HTTPConnection: Sendable {}
