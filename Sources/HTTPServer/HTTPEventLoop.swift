#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization
import Platform
import TLS

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
    // @unchecked: the state under `// Loop thread only` is touched only by the thread running
    // `run()`, which each loop-only method asserts in debug builds (`owner`); other threads use
    // just the immutable descriptors and the atomics.

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

    // Loop thread only.
    private var owner = LoopThreadOwnership()
    private let connections = HTTPConnectionTable()
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var out: [UInt8] = []
    private var date = HTTPDateCache()
    private var now: UInt64 = 0
    private var listenerRegistered = false
    private var backoffUntil: UInt64 = 0
    private var draining = false
    private var nextSweep: UInt64 = 0
    /// TLS connections whose session still holds input after their turn's bounded reads: epoll
    /// will not report it, so they are read again next turn (which then does not sleep).
    private var rereads: [HTTPConnection] = []

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

    private var timeouts: HTTPConnectionStateMachine.Timeouts { context.timeouts }

    // MARK: - Loop

    func run() {
        owner.claim()
        now = HTTPEventLoop.monotonicNow()
        lastTurn.store(now, ordering: .relaxed)
        date.refresh()
        registerListener()
        while true {
            let current = command.load(ordering: .acquiring)
            if current == Command.stop.rawValue { break }
            if current == Command.drain.rawValue && !draining { beginDrain() }
            if draining && connections.count == 0 { break }

            // With nothing to time out, sleep long (the eventfd wakes us for commands), but not
            // for ever: the watchdog needs to see the loop turn.
            var timeout: Int32 = (connections.count == 0 && backoffUntil == 0) ? HTTPEventLoop.maxSleepMilliseconds : 50
            if !rereads.isEmpty { timeout = 0 }
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
                guard let connection = connections[fd] else { continue }
                if connection.machine.isHandshaking {
                    handleHandshake(connection)
                } else if connection.machine.isWaitingToWrite {
                    if events & (Epoll.writable | Epoll.errorOrHangup) != 0 { handleWritable(connection) }
                } else {
                    handleReadable(connection)
                }
            }
            if !rereads.isEmpty {
                let again = rereads
                rereads = []
                for connection in again where connection.machine.acceptsRequests { handleReadable(connection) }
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
        connections.forEach { close($0) }
        if listenerRegistered {
            poller.remove(context.listener.fd)
            listenerRegistered = false
        }
        listenerDetached.store(true, ordering: .releasing)
        finished.store(true, ordering: .releasing)
    }

    // MARK: - Accept

    private func registerListener() {
        owner.assertOnOwner()
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
        owner.assertOnOwner()
        switch context.listener.accept() {
        case .accepted(let fd, let peer):
            let address = peer.ipText
            // One client (one address) gets at most its share, so it cannot hold every slot.
            let admission = context.admitClient(address)
            // Counted before the close, so a scrape by whoever sees the close shows it.
            if admission == .refused {
                context.counters.rejectedConnectionPerClient()
                Syscall.close(fd)
                return true
            }
            let counted = admission == .counted
            if context.openConnections.load(ordering: .relaxed) >= context.maxConnections && !evictIdlest() {
                // Over the cap with nothing idle to close: refuse quickly rather than let the
                // backlog fill with stale connects.
                if counted { context.releaseClient(address) }
                context.counters.rejectedConnection()
                Syscall.close(fd)
                return true
            }
            // The context current at accept serves the whole connection (a reload swaps it for
            // later ones only).
            var session: TLSSession? = nil
            if let tls = context.tls { session = tls.current.makeSession(fd: fd) }
            let ready = (context.tls == nil || session != nil) && (try? poller.add(fd, events: Epoll.readable)) != nil
            guard ready else {
                Syscall.close(fd)
                if counted { context.releaseClient(address) }
                return true
            }
            context.openConnections.add(1, ordering: .relaxed)
            connections.insert(HTTPConnection(
                transport: HTTPTransport(fd: fd, tls: session), remoteAddress: address, parser: context.parser,
                machine: HTTPConnectionStateMachine(
                    acceptedAt: now, timeouts: timeouts, draining: draining, handshake: session != nil),
                countedForClient: counted))
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
    /// longest, so a new client is served rather than refused. Returns whether one was closed.
    private func evictIdlest() -> Bool {
        guard context.evictIdleAtCap, let idlest = connections.idlest() else { return false }
        context.counters.evictedConnection()
        close(idlest)
        return true
    }

    // MARK: - TLS handshake

    /// Drives the handshake as far as the socket allows; once done, reads what may have come
    /// behind it.
    private func handleHandshake(_ connection: HTTPConnection) {
        owner.assertOnOwner()
        switch connection.transport.handshake() {
        case .done:
            connection.clientCertificate = connection.transport.tls?.peerCommonName
            perform(connection.machine.handshakeDone(now: now), on: connection)
            if connection.machine.acceptsRequests { handleReadable(connection) }
        case .wantRead:
            perform(connection.machine.handshakeBlocked(wantsWrite: false, now: now), on: connection)
        case .wantWrite:
            perform(connection.machine.handshakeBlocked(wantsWrite: true, now: now), on: connection)
        case .failed:
            context.counters.tlsHandshakeFailed()
            context.logger.debug("tls_handshake_failed", [
                "peer": .string(connection.remoteAddress), "reason": .string(connection.transport.tls?.failureReason ?? ""),
            ])
            perform(connection.machine.handshakeFailed(), on: connection)
        }
    }

    // MARK: - Reading and serving

    /// Reads and serves; with TLS, repeats while the session holds input epoll cannot report
    /// (16 reads a turn at most, for fairness; the rest is read next turn, see `rereads`).
    private func handleReadable(_ connection: HTTPConnection) {
        readOnce(connection)
        var rounds = 0
        while connection.transport.hasBufferedInput && connection.machine.acceptsRequests {
            guard rounds < 16 else { return rereads.append(connection) }
            readOnce(connection)
            rounds += 1
        }
    }

    private func readOnce(_ connection: HTTPConnection) {
        owner.assertOnOwner()
        let n: Int
        switch connection.transport.receive(into: readBuffer) {
        case .transferred(let count): n = count
        case .wouldBlock: return
        case .closed, .failed: return perform(connection.machine.peerClosed(), on: connection)
        }
        guard connection.machine.bytesRead(now: now) == .parse else { return }
        if connection.input.isEmpty {
            let bytes = UnsafeRawBufferPointer(start: readBuffer.baseAddress, count: n)
            let (consumed, more) = process(connection, bytes)
            if consumed < n {
                // Keep only the unconsumed tail: per-connection memory stays zero when idle.
                connection.input.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            }
            flush(connection)
            if more { serveBufferedInput(connection) }
        } else {
            connection.input.append(contentsOf: UnsafeRawBufferPointer(start: readBuffer.baseAddress, count: n))
            serveBufferedInput(connection)
        }
    }

    /// Serves requests already sitting in `connection.input` (a head completed by new bytes, or
    /// requests left by the batch cap), as long as output is not blocked.
    private func serveBufferedInput(_ connection: HTTPConnection) {
        while connection.machine.acceptsRequests && !connection.input.isEmpty {
            let (consumed, more) = connection.input.withUnsafeBytes { process(connection, $0) }
            if consumed >= connection.input.count {
                connection.input = []  // release the storage too
            } else if consumed > 0 {
                connection.input.removeFirst(consumed)
            }
            flush(connection)
            if !more { return }
        }
    }

    /// Parses and answers the requests at the start of `bytes` into `out`; returns the bytes
    /// consumed, and whether complete requests may remain because the batch output reached its
    /// cap. Stops at a partial head, after a response that closes the connection, or at the cap.
    private func process(_ connection: HTTPConnection, _ bytes: UnsafeRawBufferPointer) -> (consumed: Int, more: Bool) {
        var offset = 0
        while offset < bytes.count {
            if out.count >= HTTPEventLoop.maxBatchOutput { return (offset, true) }
            switch connection.parser.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .needMoreData:
                connection.machine.headIncomplete(now: now, timeouts: timeouts)
                return (offset, false)
            case .request(var request, let consumed, let keepAlive):
                offset += consumed
                request.remoteAddress = connection.remoteAddress
                request.clientCertificate = connection.clientCertificate
                inFlight.add(1, ordering: .relaxed)
                let closing = respond(to: request, keepAlive: keepAlive)
                connection.machine.requestAnswered(closing: closing)
                // Nothing after a closing request is read.
                if closing { return (bytes.count, false) }
            case .failure(let error):
                context.counters.refused(status: error.status)
                appendError(status: error.status, name: error.errorName, message: error.message, closing: true)
                connection.machine.requestRefused()
                return (bytes.count, false)
            }
        }
        return (offset, false)
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

    /// Writes the batch in `out` with one `send`; what the peer does not take waits in the
    /// connection for writability.
    private func flush(_ connection: HTTPConnection) {
        owner.assertOnOwner()
        guard !out.isEmpty else { return }
        let written: Int
        switch out.withUnsafeBytes({ connection.transport.send($0) }) {
        case .transferred(let n): written = n
        case .wouldBlock: written = 0
        case .closed, .failed:
            resetOut()
            return perform(connection.machine.peerClosed(), on: connection)
        }
        if written == out.count {
            resetOut()
            return outputWritten(connection)
        }
        connection.output = Array(out[written...])
        connection.outputOffset = 0
        resetOut()
        perform(connection.machine.outputBlocked(now: now, timeouts: timeouts), on: connection)
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
        owner.assertOnOwner()
        let offset = connection.outputOffset
        let result = connection.output.withUnsafeBytes {
            connection.transport.send(UnsafeRawBufferPointer(rebasing: $0[offset...]))
        }
        switch result {
        case .transferred(let n): connection.outputOffset += n
        case .wouldBlock: return
        case .closed, .failed: return perform(connection.machine.peerClosed(), on: connection)
        }
        guard connection.outputOffset == connection.output.count else { return }
        connection.output = []
        connection.outputOffset = 0
        outputWritten(connection)
        serveBufferedInput(connection)
        // Records the TLS session read ahead while output was blocked.
        if connection.transport.hasBufferedInput && connection.machine.acceptsRequests { handleReadable(connection) }
    }

    /// All responses of the connection are written: close, linger, or wait for the next request.
    private func outputWritten(_ connection: HTTPConnection) {
        let (action, completed) = connection.machine.outputWritten(now: now, timeouts: timeouts)
        inFlight.subtract(completed, ordering: .relaxed)
        perform(action, on: connection)
    }

    /// Carries out what the connection's state machine decided.
    private func perform(_ action: HTTPConnectionStateMachine.Action, on connection: HTTPConnection) {
        switch action {
        case .none:
            break
        case .watchWritable:
            if (try? poller.modify(connection.fd, events: Epoll.writable)) == nil { close(connection) }
        case .watchReadable:
            if (try? poller.modify(connection.fd, events: Epoll.readable)) == nil { close(connection) }
        case .halfCloseAndLinger:
            connection.transport.shutdownOutput()
            connection.input = []
            if (try? poller.modify(connection.fd, events: Epoll.readable)) == nil { close(connection) }
        case .close(let reason):
            if case .timedOut(let kind) = reason {
                if let key = kind.statisticsKey { context.counters.timedOut(key) }
                context.logger.debug(
                    "http_connection_timeout", ["kind": "\(kind)", "peer": .string(connection.remoteAddress)])
            }
            close(connection)
        }
    }

    // MARK: - Timeouts, drain, close

    private func sweepTimeouts() {
        owner.assertOnOwner()
        guard connections.count > 0 else { return }
        connections.forEach { connection in
            if now >= connection.machine.deadline { perform(connection.machine.tick(now: now), on: connection) }
        }
    }

    private func beginDrain() {
        owner.assertOnOwner()
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
        connections.forEach { connection in
            guard connection.machine.drainStarted() else { return }
            handleReadable(connection)
            perform(connection.machine.drainProbed(now: now, timeouts: timeouts), on: connection)
        }
    }

    /// Closes the connection's socket and forgets it; nothing happens the second time.
    private func close(_ connection: HTTPConnection) {
        owner.assertOnOwner()
        connection.machine.markClosed()
        guard connections.remove(connection) else { return }
        // Counted out before the close, so whoever sees the FIN (a client about to reconnect
        // under the cap, a drain waiting for zero) never sees the connection still counted.
        context.openConnections.subtract(1, ordering: .relaxed)
        if connection.countedForClient { context.releaseClient(connection.remoteAddress) }
        if connection.machine.inFlight > 0 { inFlight.subtract(connection.machine.inFlight, ordering: .relaxed) }
        connection.transport.close()
    }

    static func monotonicNow() -> UInt64 { MonotonicClock.nanoseconds() }
}
