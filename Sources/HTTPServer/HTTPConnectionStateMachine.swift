/// The life of one HTTP/1.1 connection as a plain value: events in (bytes read, the parser's
/// verdicts, write progress, drain, time passing), actions out (watch for writability or
/// readability, half-close and linger, close with a reason). It does no I/O and reads no clock:
/// every event that starts or checks a deadline carries the monotonic time in nanoseconds, so
/// every transition and timeout is unit-tested without sockets or real time. `HTTPEventLoop`
/// performs the actions on the socket.
///
/// ```text
///            accept (first request timed from here)
///                 │
///                 ├──▶ handshaking (TLS; want read / want write) ──▶ closed (failed, timed out)
///                 │        │ done (same deadline)
///                 ▼ ◀──────┘  bytes, head incomplete
///        ┌─▶ awaitingRequest ───────────────▶ readingHead
///        │        │ request / refusal               │ request / refusal
///        │        ▼                                 ▼
///        │    responding ◀──────────────────────────┘   (responses queued in the batch)
///        │        │ all written        │ peer slow
///        │        │                    ▼
///        ├────────┤◀──── all written ─ writing (EPOLLOUT; write deadline)
///        │        │
///        │        └─▶ closed (final response), or lingering (after a refusal) ─▶ closed
///        └── keep-alive: idle deadline
/// ```
///
/// TLS: the handshake is one more state before `awaitingRequest`, timed by the same deadline
/// as the first request head (from accept), so a stalled handshake costs what a slowloris head
/// costs; the session's want-read/want-write maps onto `watchReadable`/`watchWritable`.
///
/// ```swift
/// let limits = HTTPConnectionStateMachine.Timeouts(header: 10_000_000_000, idle: 60_000_000_000, write: 10_000_000_000)
/// var machine = HTTPConnectionStateMachine(acceptedAt: 0, timeouts: limits, draining: false)
/// machine.bytesRead(now: 1_000)                     // .parse
/// machine.headIncomplete(now: 1_000, timeouts: limits)
/// machine.tick(now: 10_000_000_000)                 // .close(.timedOut(.header)): timed from accept
/// ```
struct HTTPConnectionStateMachine {
    /// Where the connection is. Each waiting state carries its own deadline.
    enum State: Equatable {
        /// TLS handshake in progress (must finish, with the first request head, by `deadline`);
        /// `wantsWrite`: it waits for writability rather than readability.
        case handshaking(deadline: UInt64, wantsWrite: Bool)
        /// No request bytes held: a fresh connection (deadline: the header timeout from accept)
        /// or a keep-alive connection between requests (deadline: the idle timeout).
        case awaitingRequest(deadline: UInt64)
        /// Part of a request head is held; the head must be complete by `deadline`.
        case readingHead(deadline: UInt64)
        /// Responses are queued in the event loop's batch output and about to be written: only
        /// between a request and the write that ends the same event.
        case responding(then: AfterOutput)
        /// Output the peer has not taken yet. Reading waits until it is written (back-pressure).
        case writing(deadline: UInt64, then: AfterOutput)
        /// The final response was written after a refusal and our side is shut; what the peer
        /// still sends is read and discarded for a moment, so that closing does not reset the
        /// connection before the peer read the response.
        case lingering(deadline: UInt64)
        case closed
    }

    /// What follows once the queued output is written.
    enum AfterOutput: Equatable {
        /// Keep-alive: wait for the next request.
        case awaitRequest
        /// A partial head arrived behind the answered requests; its clock keeps running.
        case continueHead(deadline: UInt64)
        /// The final response (`Connection: close`): close.
        case close
        /// The final response after a refusal: half-close and linger.
        case linger
    }

    /// What the event loop must do after an event.
    enum Action: Equatable {
        case none
        /// Output is blocked: watch for writability instead of readability.
        case watchWritable
        /// Output is written: watch for readability again.
        case watchReadable
        /// Shut our sending side, drop buffered input, and watch for readability (to discard).
        case halfCloseAndLinger
        /// Close the connection.
        case close(CloseReason)
    }

    /// What a just-read chunk of bytes is for.
    enum Input: Equatable {
        /// Feed it to the parser.
        case parse
        /// Drop it (lingering after a refusal).
        case discard
    }

    /// Why the machine closed the connection.
    enum CloseReason: Equatable {
        /// EOF or an error on the socket.
        case peerClosed
        /// The final response was written.
        case finished
        case timedOut(TimeoutKind)
        /// An idle keep-alive connection closed because the server is draining.
        case drained
        /// The TLS handshake failed (not TLS, an old protocol, a refused client certificate).
        case handshakeFailed
    }

    /// Which deadline passed.
    enum TimeoutKind: Equatable {
        case header, idle, write, linger

        /// The `HTTPServerStatistics.timeouts` key; nil for the linger, which ends a refusal
        /// already counted.
        var statisticsKey: String? {
            switch self {
            case .header: "header"
            case .idle: "idle"
            case .write: "write"
            case .linger: nil
            }
        }
    }

    /// Every limit the machine times, in monotonic nanoseconds. Passed with the events that need
    /// it instead of stored, so each of many idle connections stays small.
    struct Timeouts: Sendable, Equatable {
        /// The whole request head, from its first byte (from accept for the first request).
        var header: UInt64
        /// A keep-alive connection between requests.
        var idle: UInt64
        /// Output the peer does not take, from when it first blocked.
        var write: UInt64
        /// Discarding input after a refusal before closing.
        var linger: UInt64 = 2_000_000_000
        /// During a drain, a connection that has not sent anything yet gets at most this long.
        var drainFreshConnection: UInt64 = 1_000_000_000
    }

    private(set) var state: State
    /// Requests answered (each with a response queued) since accept.
    private(set) var requestsServed = 0
    /// Requests answered whose responses are not fully written yet.
    private(set) var inFlight = 0
    /// Monotonic time of the last byte read or response written: picks the connection idle
    /// longest when one must make room at the connection cap.
    private(set) var lastActivity: UInt64

    /// `handshake`: the connection starts with a TLS handshake.
    init(acceptedAt now: UInt64, timeouts: Timeouts, draining: Bool, handshake: Bool = false) {
        var deadline = now &+ timeouts.header
        if draining { deadline = min(deadline, now &+ timeouts.drainFreshConnection) }
        state = handshake ? .handshaking(deadline: deadline, wantsWrite: false) : .awaitingRequest(deadline: deadline)
        lastActivity = now
    }

    // MARK: - Queries

    /// When the current state times out; `UInt64.max` when it cannot.
    var deadline: UInt64 {
        switch state {
        case .awaitingRequest(let deadline), .readingHead(let deadline), .writing(let deadline, _),
            .lingering(let deadline), .handshaking(let deadline, _):
            deadline
        case .responding, .closed:
            .max
        }
    }

    /// True while output waits for the peer: the loop watches for writability, not readability.
    var isWaitingToWrite: Bool {
        if case .writing = state { return true }
        return false
    }

    /// True until the TLS handshake is done: readiness drives the handshake, not the parser.
    var isHandshaking: Bool {
        if case .handshaking = state { return true }
        return false
    }

    /// True when buffered input may be parsed now (output is not blocked, nothing is ending).
    var acceptsRequests: Bool {
        switch state {
        case .awaitingRequest, .readingHead: true
        case .handshaking, .responding, .writing, .lingering, .closed: false
        }
    }

    var isClosed: Bool { state == .closed }

    /// `lastActivity` when the connection may be closed to make room (no request in progress,
    /// nothing to write); nil otherwise.
    var idleSince: UInt64? {
        if case .awaitingRequest = state { return lastActivity }
        return nil
    }

    // MARK: - TLS handshake

    /// The handshake waits for the socket: returns what to watch when that changed.
    mutating func handshakeBlocked(wantsWrite: Bool, now: UInt64) -> Action {
        guard case .handshaking(let deadline, let wasWrite) = state else { return .none }
        lastActivity = now
        state = .handshaking(deadline: deadline, wantsWrite: wantsWrite)
        guard wasWrite != wantsWrite else { return .none }
        return wantsWrite ? .watchWritable : .watchReadable
    }

    /// The handshake finished: the first request head must still arrive by the same deadline.
    mutating func handshakeDone(now: UInt64) -> Action {
        guard case .handshaking(let deadline, let wasWrite) = state else { return .none }
        lastActivity = now
        state = .awaitingRequest(deadline: deadline)
        return wasWrite ? .watchReadable : .none
    }

    /// The handshake failed: close at once (nothing can be said in clear).
    mutating func handshakeFailed() -> Action {
        state = .closed
        return .close(.handshakeFailed)
    }

    // MARK: - Reading and parsing

    /// Bytes arrived.
    mutating func bytesRead(now: UInt64) -> Input {
        switch state {
        case .handshaking, .lingering, .closed:
            return .discard
        case .awaitingRequest, .readingHead, .responding, .writing:
            lastActivity = now
            return .parse
        }
    }

    /// The parser holds part of a head. Its clock starts at the head's first byte, and for a
    /// connection's first request at accept: a client cannot wait out most of the limit and then
    /// trickle bytes for a fresh one.
    mutating func headIncomplete(now: UInt64, timeouts: Timeouts) {
        switch state {
        case .awaitingRequest(let acceptDeadline):
            var deadline = now &+ timeouts.header
            if requestsServed == 0 { deadline = min(deadline, max(acceptDeadline, now)) }
            state = .readingHead(deadline: deadline)
        case .responding(.awaitRequest):
            state = .responding(then: .continueHead(deadline: now &+ timeouts.header))
        case .handshaking, .readingHead, .responding, .writing, .lingering, .closed:
            break
        }
    }

    /// A request was answered: its response is queued. `closing`: it is the last one
    /// (`Connection: close`, HTTP/1.0, or a drain).
    mutating func requestAnswered(closing: Bool) {
        requestsServed += 1
        inFlight += 1
        state = .responding(then: closing ? .close : .awaitRequest)
    }

    /// The parser refused the request; the error response is queued and is the last one.
    mutating func requestRefused() {
        state = .responding(then: .linger)
    }

    // MARK: - Writing

    /// The peer took only part of the queued output; the rest waits for writability, and the
    /// whole of it must be taken within the write timeout.
    mutating func outputBlocked(now: UInt64, timeouts: Timeouts) -> Action {
        guard case .responding(let then) = state else { return .none }
        state = .writing(deadline: now &+ timeouts.write, then: then)
        return .watchWritable
    }

    /// Everything queued was written. Returns the action and the responses now complete.
    mutating func outputWritten(now: UInt64, timeouts: Timeouts) -> (action: Action, completed: Int) {
        let completed = inFlight
        inFlight = 0
        let then: AfterOutput
        let wasBlocked: Bool
        switch state {
        case .responding(let next):
            then = next
            wasBlocked = false
        case .writing(_, let next):
            then = next
            wasBlocked = true
        case .handshaking, .awaitingRequest, .readingHead, .lingering, .closed:
            return (.none, completed)
        }
        switch then {
        case .awaitRequest:
            state = .awaitingRequest(deadline: now &+ timeouts.idle)
            lastActivity = now
            return (wasBlocked ? .watchReadable : .none, completed)
        case .continueHead(let deadline):
            state = .readingHead(deadline: deadline)
            return (wasBlocked ? .watchReadable : .none, completed)
        case .close:
            state = .closed
            return (.close(.finished), completed)
        case .linger:
            state = .lingering(deadline: now &+ timeouts.linger)
            return (.halfCloseAndLinger, completed)
        }
    }

    // MARK: - End, time and drain

    /// EOF or an error while reading or writing.
    mutating func peerClosed() -> Action {
        state = .closed
        return .close(.peerClosed)
    }

    /// The event loop closed the connection for a reason of its own (eviction, server stop).
    mutating func markClosed() {
        state = .closed
    }

    /// Time passed: closes the connection if its deadline has.
    mutating func tick(now: UInt64) -> Action {
        guard now >= deadline else { return .none }
        let kind: TimeoutKind
        switch state {
        case .awaitingRequest: kind = requestsServed == 0 ? .header : .idle
        // Counted as a header timeout: the same limit, and the same attack (slowloris).
        case .readingHead, .handshaking: kind = .header
        case .writing: kind = .write
        case .lingering: kind = .linger
        case .responding, .closed: return .none
        }
        state = .closed
        return .close(.timedOut(kind))
    }

    /// The server started draining. Returns true when the loop should try one read first: a
    /// connection between requests may already have one in the socket (or, just accepted, be
    /// about to send it), which is served rather than reset; then call `drainProbed`.
    mutating func drainStarted() -> Bool {
        switch state {
        case .awaitingRequest:
            return true
        case .writing(let deadline, .awaitRequest), .writing(let deadline, .continueHead):
            // The responses being written end the connection.
            state = .writing(deadline: deadline, then: .close)
            return false
        case .readingHead, .responding, .writing, .lingering, .closed, .handshaking:
            // A head being read is answered (with `Connection: close`) when it completes; a
            // handshake keeps its deadline and its first request is answered likewise.
            return false
        }
    }

    /// After the drain's read: an idle keep-alive connection closes; a fresh one that still sent
    /// nothing gets at most `drainFreshConnection` more.
    mutating func drainProbed(now: UInt64, timeouts: Timeouts) -> Action {
        guard case .awaitingRequest(let deadline) = state else { return .none }
        if requestsServed > 0 {
            state = .closed
            return .close(.drained)
        }
        state = .awaitingRequest(deadline: min(deadline, now &+ timeouts.drainFreshConnection))
        return .none
    }
}
