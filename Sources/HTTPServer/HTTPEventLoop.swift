#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization
import Platform

/// One event-loop thread: an epoll instance watching the shared listener (with
/// `EPOLLEXCLUSIVE`, so one idle loop wakes per connection), an eventfd for commands, and the
/// connections it accepted. Requests are parsed from a 16 KiB read buffer shared by all its
/// connections; all responses produced from one read go out in one `write`.
///
/// ```swift
/// let loop = try HTTPEventLoop(index: 0, context: context)
/// // on its own thread: loop.run()
/// loop.send(.drain)   // from any thread
/// ```
final class HTTPEventLoop: @unchecked Sendable {
    // @unchecked: everything below `// Loop thread only` is touched only by the thread running
    // `run()`; other threads use just the immutable descriptors and the atomics.

    /// Messages from other threads to the loop, delivered through its eventfd.
    enum Command: Int {
        case run = 0, drain = 1, stop = 2
    }

    let index: Int
    let context: HTTPServerContext
    private let poller: Epoll
    private let wakeFD: Int32
    /// Requests handled by this loop whose responses are not fully written.
    let inFlight = Atomic<Int>(0)
    private let command = Atomic<Int>(Command.run.rawValue)
    /// Set once the loop no longer watches the listener (after a drain started).
    let listenerDetached = Atomic<Bool>(false)
    /// Set when `run()` returns.
    let finished = Atomic<Bool>(false)
    /// Monotonic time (ns) of the loop's last turn; the loop turns at least every
    /// `HTTPEventLoop.maxSleep`, so an old value means it is stuck (a watchdog reads it).
    let lastTurn = Atomic<UInt64>(0)
    /// The longest the loop sleeps in `epoll_wait` when nothing is due.
    static let maxSleepMilliseconds: Int32 = 1000

    private static let readSize = 16 * 1024
    /// Output of one batch above which remaining pipelined requests wait for the next round.
    private static let maxBatchOutput = 256 * 1024
    private static let sweepInterval: UInt64 = 50_000_000
    private static let acceptBackoff: UInt64 = 100_000_000
    /// During a drain, a connection that has not sent anything yet gets at most this long.
    private static let drainFreshConnectionWait: UInt64 = 1_000_000_000

    // Loop thread only.
    private var connections: [HTTPConnection?] = []
    private var liveCount = 0
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var out: [UInt8] = []
    private var date = HTTPDateCache()
    private var now: UInt64 = 0
    private var listenerRegistered = false
    private var backoffUntil: UInt64 = 0
    private var draining = false
    private var nextSweep: UInt64 = 0

    init(index: Int, context: HTTPServerContext) throws(SystemError) {
        self.index = index
        self.context = context
        poller = try Epoll(capacity: 256)
        wakeFD = try Syscall.call("eventfd") { eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)) }
        do {
            try poller.add(wakeFD, events: Epoll.readable)
        } catch {
            Syscall.close(wakeFD)
            throw error
        }
        readBuffer = .allocate(byteCount: HTTPEventLoop.readSize, alignment: 16)
        out.reserveCapacity(16 * 1024)
    }

    deinit {
        readBuffer.deallocate()
        Syscall.close(wakeFD)
    }

    /// Asks the loop to drain or stop; callable from any thread.
    func send(_ newCommand: Command) {
        command.store(newCommand.rawValue, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: - Loop

    func run() {
        now = HTTPEventLoop.monotonicNow()
        lastTurn.store(now, ordering: .relaxed)
        date.refresh()
        registerListener()
        while true {
            let current = command.load(ordering: .acquiring)
            if current == Command.stop.rawValue { break }
            if current == Command.drain.rawValue && !draining { beginDrain() }
            if draining && liveCount == 0 { break }

            // With nothing to time out, sleep long (the eventfd wakes us for commands), but not
            // for ever: the watchdog needs to see the loop turn.
            let timeout: Int32 = (liveCount == 0 && backoffUntil == 0) ? HTTPEventLoop.maxSleepMilliseconds : 50
            let ready = poller.wait(timeoutMilliseconds: timeout)
            now = HTTPEventLoop.monotonicNow()
            lastTurn.store(now, ordering: .relaxed)
            date.refresh()
            for i in 0..<ready {
                let (fd, events) = poller.event(at: i)
                if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                    continue
                }
                if fd == context.listener.fd {
                    if listenerRegistered { _ = acceptOne() }
                    continue
                }
                guard fd >= 0, Int(fd) < connections.count, let connection = connections[Int(fd)] else { continue }
                if connection.state == .writing {
                    if events & (Epoll.writable | Epoll.errorOrHangup) != 0 { handleWritable(connection) }
                } else {
                    handleReadable(connection)
                }
            }
            if now >= nextSweep {
                nextSweep = now + HTTPEventLoop.sweepInterval
                sweepTimeouts()
            }
            if backoffUntil != 0 && now >= backoffUntil {
                backoffUntil = 0
                if !draining { registerListener() }
            }
        }
        closeAll()
        if listenerRegistered {
            poller.remove(context.listener.fd)
            listenerRegistered = false
        }
        listenerDetached.store(true, ordering: .releasing)
        finished.store(true, ordering: .releasing)
    }

    // MARK: - Accept

    private func registerListener() {
        guard !listenerRegistered else { return }
        do {
            try poller.add(context.listener.fd, events: Epoll.readable | Epoll.exclusive)
            listenerRegistered = true
        } catch {
            context.logger.error("http_listener_register_failed", ["error": "\(error)", "loop": .int(index)])
            backoffUntil = now + HTTPEventLoop.acceptBackoff
        }
    }

    private func detachListener() {
        guard listenerRegistered else { return }
        poller.remove(context.listener.fd)
        listenerRegistered = false
    }

    /// Accepts one pending connection; returns false when there is nothing (more) to accept.
    /// One per wake-up, so that `EPOLLEXCLUSIVE` spreads a burst of connects over the loops.
    private func acceptOne() -> Bool {
        switch context.listener.accept() {
        case .accepted(let fd, let peer):
            let address = peer.ipText
            // One client (one address) gets at most its share, so it cannot hold every slot.
            guard let counted = context.admitClient(address) else {
                Syscall.close(fd)
                context.counters.rejectedConnectionPerClient()
                return true
            }
            if context.openConnections.load(ordering: .relaxed) >= context.maxConnections && !evictIdlest() {
                // Over the cap with nothing idle to close: refuse quickly rather than let the
                // backlog fill with stale connects.
                if counted { context.releaseClient(address) }
                Syscall.close(fd)
                context.counters.rejectedConnection()
                return true
            }
            context.openConnections.add(1, ordering: .relaxed)
            let connection = HTTPConnection(fd: fd, remoteAddress: address, parser: context.parser)
            connection.countedForClient = counted
            connection.lastActivity = now
            connection.deadline = now + context.headerReadTimeout
            if draining { connection.deadline = min(connection.deadline, now + HTTPEventLoop.drainFreshConnectionWait) }
            do {
                try poller.add(fd, events: Epoll.readable)
            } catch {
                connection.isClosed = true
                Syscall.close(fd)
                context.openConnections.subtract(1, ordering: .relaxed)
                if counted { context.releaseClient(address) }
                return true
            }
            let slot = Int(fd)
            if slot >= connections.count {
                connections.append(contentsOf: repeatElement(nil, count: max(slot + 1 - connections.count, 64)))
            }
            connections[slot] = connection
            liveCount += 1
            return true
        case .wouldBlock:
            return false
        case .transient:
            return true
        case .resourceExhausted(let error):
            // Out of descriptors or memory: the listener stays readable, so watching it would spin.
            context.logger.warning("http_accept_backoff", ["error": "\(error)", "loop": .int(index)])
            detachListener()
            backoffUntil = now + HTTPEventLoop.acceptBackoff
            return false
        case .failed(let error):
            context.logger.error("http_accept_failed", ["error": "\(error)", "loop": .int(index)])
            detachListener()
            backoffUntil = now + 10 * HTTPEventLoop.acceptBackoff
            return false
        }
    }

    /// At the cap (with `evictIdleAtCap`): closes this loop's connection that has been idle
    /// longest, with no request in progress (a keep-alive between requests, or a connection
    /// that never sent a byte), so a new client is served rather than refused. Returns whether
    /// one was closed. A scan of this loop's connections, paid only at the cap.
    private func evictIdlest() -> Bool {
        guard context.evictIdleAtCap else { return false }
        var oldest: HTTPConnection? = nil
        for slot in 0..<connections.count {
            guard let c = connections[slot], c.state == .awaitingRequest, c.inFlight == 0, c.input.isEmpty, !c.isClosed else { continue }
            if oldest == nil || c.lastActivity < oldest!.lastActivity { oldest = c }
        }
        guard let oldest else { return false }
        context.counters.evictedConnection()
        close(oldest)
        return true
    }

    // MARK: - Reading and serving

    private func handleReadable(_ connection: HTTPConnection) {
        let n = read(connection.fd, readBuffer.baseAddress, readBuffer.count)
        if n <= 0 {
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
            close(connection)  // EOF or error
            return
        }
        if connection.state == .lingering { return }  // discard what the peer still sends
        connection.lastActivity = now
        if connection.input.isEmpty {
            let bytes = UnsafeRawBufferPointer(start: readBuffer.baseAddress, count: n)
            let consumed = process(connection, bytes)
            if consumed < n {
                // Keep only the unconsumed tail: per-connection memory stays zero when idle.
                connection.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            }
            flush(connection)
        } else {
            connection.input.append(contentsOf: UnsafeRawBufferPointer(start: readBuffer.baseAddress, count: n))
            connection.hasUnprocessedInput = true
        }
        processBufferedInput(connection)
    }

    /// Serves requests already sitting in `connection.input`, as long as output is not blocked.
    private func processBufferedInput(_ connection: HTTPConnection) {
        while !connection.isClosed && connection.state != .writing && connection.state != .lingering
            && connection.hasUnprocessedInput && !connection.input.isEmpty
        {
            let consumed = connection.input.withUnsafeBytes { process(connection, $0) }
            if consumed >= connection.input.count {
                connection.input = []  // release the storage too
            } else if consumed > 0 {
                connection.input.removeFirst(consumed)
            }
            flush(connection)
        }
    }

    /// Parses and answers the requests at the start of `bytes` into `out`; returns the bytes
    /// consumed. Stops at a partial head, after a response that closes the connection, or when
    /// the batch output reaches its cap.
    private func process(_ connection: HTTPConnection, _ bytes: UnsafeRawBufferPointer) -> Int {
        connection.hasUnprocessedInput = false
        var offset = 0
        while offset < bytes.count {
            if out.count >= HTTPEventLoop.maxBatchOutput {
                connection.hasUnprocessedInput = true
                return offset
            }
            switch connection.parser.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .needMoreData:
                if connection.headDeadline == 0 {
                    // The slowloris clock starts at the first byte of a head, and for a
                    // connection's first request at accept (its deadline was set then): a client
                    // cannot wait out most of the limit and then trickle bytes for a new one.
                    connection.headDeadline = now + context.headerReadTimeout
                    if connection.requestsServed == 0 {
                        connection.headDeadline = min(connection.headDeadline, max(connection.deadline, now))
                    }
                }
                connection.state = .readingHead
                return offset
            case .request(var request, let consumed, let keepAlive):
                offset += consumed
                connection.headDeadline = 0
                connection.state = .awaitingRequest
                request.remoteAddress = connection.remoteAddress
                connection.inFlight += 1
                connection.requestsServed += 1
                inFlight.add(1, ordering: .relaxed)
                let closing = respond(to: request, keepAlive: keepAlive)
                if closing {
                    connection.closeAfterWrite = true
                    return bytes.count  // nothing after this request will be read
                }
            case .failure(let error):
                connection.headDeadline = 0
                context.counters.refused(status: error.status)
                appendError(status: error.status, name: error.errorName, message: error.message, closing: true)
                connection.closeAfterWrite = true
                connection.lingerAfterWrite = true
                return bytes.count
            }
        }
        return offset
    }

    /// Appends the response to `request`; returns whether the connection closes after it.
    private func respond(to request: HTTPRequest, keepAlive: Bool) -> Bool {
        if case .other = request.method {
            context.counters.refused(status: 405)
            let closing = !keepAlive || isDraining
            appendError(
                status: 405, name: "method_not_allowed", message: "only GET and HEAD are supported",
                closing: closing, extraHeaders: [("Allow", "GET, HEAD")])
            return closing
        }
        let response = context.handler(request)
        // Checked after the handler: a drain requested while it ran already gets
        // `Connection: close`, before the loop gets round to `beginDrain`.
        let closing = !keepAlive || isDraining
        let connectionHeader: HTTPResponseEncoder.ConnectionHeader =
            closing ? .close : (request.version == .http1_0 ? .keepAlive : .none)
        let dropped = HTTPResponseEncoder.encode(
            response, omitBody: request.method == .head, connection: connectionHeader, date: date.headerLine,
            into: &out)
        if !dropped.isEmpty {
            context.logger.warning(
                "http_response_header_dropped",
                ["headers": .string(dropped.joined(separator: ",")), "status": .int(response.status)])
        }
        return closing
    }

    private var isDraining: Bool {
        draining || command.load(ordering: .relaxed) != Command.run.rawValue
    }

    private func appendError(
        status: Int, name: String, message: String, closing: Bool, extraHeaders: [(String, String)] = []
    ) {
        let response = HTTPResponse.jsonError(status: status, error: name, message: message, headers: extraHeaders)
        HTTPResponseEncoder.encode(
            response, omitBody: false, connection: closing ? .close : .none, date: date.headerLine, into: &out)
    }

    // MARK: - Writing

    /// Writes the batch in `out` with one `write`; what the peer does not take waits in the
    /// connection with EPOLLOUT armed.
    private func flush(_ connection: HTTPConnection) {
        guard !out.isEmpty else { return }
        // send(MSG_NOSIGNAL): a peer that went away must not raise SIGPIPE in the host process.
        let n = out.withUnsafeBytes { Glibc.send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n == out.count {
            resetOut()
            finishWrite(connection)
            return
        }
        if n < 0 && errno != EAGAIN && errno != EINTR {
            resetOut()
            close(connection)
            return
        }
        connection.output = Array(out[max(n, 0)...])
        connection.outputOffset = 0
        resetOut()
        connection.state = .writing
        connection.deadline = now + context.writeTimeout
        do {
            try poller.modify(connection.fd, events: Epoll.writable)
        } catch {
            close(connection)
        }
    }

    private func resetOut() {
        if out.capacity > 4 * HTTPEventLoop.maxBatchOutput {
            out = []
            out.reserveCapacity(16 * 1024)
        } else {
            out.removeAll(keepingCapacity: true)
        }
    }

    private func handleWritable(_ connection: HTTPConnection) {
        let remaining = connection.output.count - connection.outputOffset
        let n = connection.output.withUnsafeBytes {
            Glibc.send(connection.fd, $0.baseAddress! + connection.outputOffset, remaining, Int32(MSG_NOSIGNAL))
        }
        if n < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            close(connection)
            return
        }
        connection.outputOffset += n
        guard connection.outputOffset == connection.output.count else { return }
        connection.output = []
        connection.outputOffset = 0
        if !connection.closeAfterWrite {
            do {
                try poller.modify(connection.fd, events: Epoll.readable)
            } catch {
                close(connection)
                return
            }
        }
        connection.state = .awaitingRequest
        finishWrite(connection)
        processBufferedInput(connection)
    }

    /// All responses of the connection are written: close, linger, or wait for the next request.
    private func finishWrite(_ connection: HTTPConnection) {
        inFlight.subtract(connection.inFlight, ordering: .relaxed)
        connection.inFlight = 0
        if connection.closeAfterWrite {
            if connection.lingerAfterWrite {
                _ = Glibc.shutdown(connection.fd, Int32(SHUT_WR))
                connection.state = .lingering
                connection.deadline = now + context.lingerTimeout
                connection.input = []
                if (try? poller.modify(connection.fd, events: Epoll.readable)) == nil { close(connection) }
            } else {
                close(connection)
            }
            return
        }
        if !connection.input.isEmpty && !connection.hasUnprocessedInput {
            connection.state = .readingHead
        } else {
            connection.state = .awaitingRequest
            connection.deadline = now + context.idleTimeout
            connection.lastActivity = now
        }
    }

    // MARK: - Timeouts, drain, close

    private func sweepTimeouts() {
        guard liveCount > 0 else { return }
        for slot in 0..<connections.count {
            guard let connection = connections[slot] else { continue }
            let deadline = connection.state == .readingHead ? connection.headDeadline : connection.deadline
            if deadline != 0 && now >= deadline {
                switch connection.state {
                case .readingHead: context.counters.timedOut("header")
                case .writing: context.counters.timedOut("write")
                case .awaitingRequest: context.counters.timedOut(connection.requestsServed == 0 ? "header" : "idle")
                case .lingering: break
                }
                context.logger.debug(
                    "http_connection_timeout",
                    ["state": "\(connection.state)", "peer": .string(connection.remoteAddress)])
                close(connection)
            }
        }
    }

    private func beginDrain() {
        draining = true
        backoffUntil = 0
        if listenerRegistered {
            // Connections already queued in the backlog were accepted by the kernel for us:
            // serve them instead of letting the listener's close reset them.
            var accepted = 0
            while accepted < 4096 && acceptOne() { accepted += 1 }
            detachListener()
        }
        listenerDetached.store(true, ordering: .releasing)
        for slot in 0..<connections.count {
            guard let connection = connections[slot] else { continue }
            switch connection.state {
            case .awaitingRequest:
                // A request may already sit in the socket (or, for a just-accepted connection, be
                // about to arrive): serve what is there rather than reset it.
                handleReadable(connection)
                if connection.isClosed || connection.state != .awaitingRequest { continue }
                if connection.requestsServed > 0 {
                    close(connection)  // idle keep-alive
                } else {
                    connection.deadline = min(connection.deadline, now + HTTPEventLoop.drainFreshConnectionWait)
                }
            case .writing:
                connection.closeAfterWrite = true
            case .readingHead, .lingering:
                break
            }
        }
    }

    private func close(_ connection: HTTPConnection) {
        guard !connection.isClosed else { return }
        connection.isClosed = true
        connections[Int(connection.fd)] = nil
        liveCount -= 1
        // Counted out before the close, so whoever sees the FIN (a client about to reconnect
        // under the cap, a drain waiting for zero) never sees the connection still counted.
        context.openConnections.subtract(1, ordering: .relaxed)
        if connection.countedForClient { context.releaseClient(connection.remoteAddress) }
        if connection.inFlight > 0 {
            inFlight.subtract(connection.inFlight, ordering: .relaxed)
            connection.inFlight = 0
        }
        // close() also removes the descriptor from the epoll set (we never dup it).
        Syscall.close(connection.fd)
    }

    private func closeAll() {
        for slot in 0..<connections.count {
            if let connection = connections[slot] { close(connection) }
        }
    }

    static func monotonicNow() -> UInt64 { MonotonicClock.nanoseconds() }
}
