#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Platform

/// Answers one request; called synchronously on an event-loop thread, so it must be fast and
/// must not block. Only `GET` and `HEAD` reach it (the server answers `405` for the rest).
public typealias HTTPHandler = @Sendable (HTTPRequest) -> HTTPResponse

/// A small, hardened HTTP/1.1 server: epoll event loops on their own threads sharing one
/// listener, keep-alive and pipelining, strict parsing, size limits, slowloris/idle/write
/// timeouts, a connection cap, accept back-off, and graceful drain; TLS when
/// `configuration.tls` holds a context (the handshake driven by the same loops).
///
/// ```swift
/// var config = HTTPServerConfiguration()
/// config.port = 0
/// let server = HTTPServer(configuration: config, logger: Logger(component: "http")) { request in
///     request.path == "/healthz"
///         ? HTTPResponse(status: 200, headers: [("Content-Type", "application/json")],
///                        body: Array(#"{"status":"ok"}"#.utf8))
///         : HTTPResponse(status: 404)
/// }
/// let port = try server.start()
/// // ...
/// server.shutdown(gracePeriod: .seconds(5))
/// ```
public final class HTTPServer: Sendable {
    /// The server's lifecycle: created, running, draining, stopped.
    private enum State: Sendable {
        case idle
        case running(Running)
        case stopping
        case stopped
    }

    /// What a running server owns: its listener, loops and threads.
    private struct Running: Sendable {
        let context: HTTPServerContext
        let loops: [HTTPEventLoop]
        let threads: [pthread_t]
    }

    public let configuration: HTTPServerConfiguration
    private let logger: Logger
    private let handler: HTTPHandler
    private let state = Mutex<State>(.idle)
    /// Loops of the running server, kept apart from `state` so metrics never wait on a shutdown.
    private let loops = Mutex<[HTTPEventLoop]>([])
    private let openCount = Mutex<HTTPServerContext?>(nil)

    public init(configuration: HTTPServerConfiguration, logger: Logger, handler: @escaping HTTPHandler) {
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
    }

    /// Open client connections right now (for `/metrics`).
    public var openConnections: Int {
        openCount.withLock { $0?.openConnections.load(ordering: .relaxed) ?? 0 }
    }

    /// Requests being handled or whose responses are still being written (for `/metrics`).
    public var inFlightRequests: Int {
        loops.withLock { $0.reduce(0) { $0 + $1.inFlight.load(ordering: .relaxed) } }
    }

    /// What the server refused or timed out on by itself (for `/metrics`).
    public var statistics: HTTPServerStatistics {
        openCount.withLock { $0?.counters.snapshot }
            ?? HTTPServerStatistics(refusals: [:], timeouts: [:], connectionsRejected: 0)
    }

    /// Event loops whose last turn is older than `limit`: stuck in a handler or a system call.
    /// Every loop turns at least once a second, so a limit of a few seconds has no false alarms.
    public func stalledLoops(olderThan limit: Duration) -> Int {
        let now = HTTPEventLoop.monotonicNow()
        let limitNs = limit.nanosecondsClamped
        return loops.withLock { loops in
            loops.filter { now &- $0.lastTurn.load(ordering: .relaxed) > limitNs && !$0.finished.load(ordering: .relaxed) }.count
        }
    }

    /// Binds, starts the event-loop threads and returns the bound port.
    /// Throws `SocketAddressError` for a bad host or port, `SystemError` if binding fails,
    /// and `HTTPServerError` if the server was already started.
    @discardableResult
    public func start() throws -> Int {
        try state.withLock { state in
            guard case .idle = state else { throw HTTPServerError.alreadyStarted }
            // OpenSSL writes to the socket with write(2), which raises SIGPIPE when the peer has
            // gone (plain sends use MSG_NOSIGNAL). Both programs ignore it already; a host that
            // embeds a TLS server must too, or a vanished client would kill it.
            if configuration.tls != nil { signal(SIGPIPE, SIG_IGN) }
            let address = try SocketAddress(ipLiteral: configuration.host, port: configuration.port)
            let listener = try SocketListener(address: address, backlog: configuration.backlog)
            let context = HTTPServerContext(
                configuration: configuration, listener: listener, logger: logger, handler: handler)
            var loops: [HTTPEventLoop] = []
            var threads: [pthread_t] = []
            do {
                for index in 0..<max(1, configuration.eventLoops) {
                    let loop = try HTTPEventLoop(index: index, context: context)
                    threads.append(try NamedThread.joinable(name: "http-loop-\(index)") { loop.run() })
                    loops.append(loop)
                }
            } catch {
                for loop in loops { loop.send(.stop) }
                for thread in threads { pthread_join(thread, nil) }
                listener.close()
                throw error
            }
            self.loops.withLock { $0 = loops }
            openCount.withLock { $0 = context }
            state = .running(Running(context: context, loops: loops, threads: threads))
            logger.info(
                "http_server_started",
                ["host": .string(configuration.host), "port": .int(listener.port), "loops": .int(loops.count)])
            return listener.port
        }
    }

    /// Graceful stop: closes the listener (after accepting what is already queued), closes idle
    /// keep-alive connections, lets requests being read, handled or written finish (answered
    /// with `Connection: close`), and returns when every connection is closed or `gracePeriod`
    /// has passed, force-closing the rest. Blocks the caller.
    public func shutdown(gracePeriod: Duration) {
        guard let running = beginStopping() else { return }
        let deadline = HTTPEventLoop.monotonicNow() &+ gracePeriod.nanosecondsClamped
        logger.info("http_server_draining", ["open_connections": .int(openConnections)])
        for loop in running.loops { loop.send(.drain) }
        // Close the listener only once no loop watches it any more, so nothing accepts on a
        // closed descriptor (and its number cannot be reused under a loop's epoll set).
        HTTPServer.waitUntil(deadline) { running.loops.allSatisfy { $0.listenerDetached.load(ordering: .acquiring) } }
        running.context.listener.close()
        let drained = HTTPServer.waitUntil(deadline) {
            running.loops.allSatisfy { $0.finished.load(ordering: .acquiring) }
        }
        finish(running, forced: !drained)
    }

    /// Stops at once: closes the listener and every connection.
    public func stopNow() {
        guard let running = beginStopping() else { return }
        finish(running, forced: true)
    }

    private func beginStopping() -> Running? {
        state.withLock { state in
            switch state {
            case .running(let running):
                state = .stopping
                return running
            case .idle:
                state = .stopped
                return nil
            case .stopping, .stopped:
                return nil
            }
        }
    }

    private func finish(_ running: Running, forced: Bool) {
        let left = openConnections
        for loop in running.loops { loop.send(.stop) }
        for thread in running.threads { pthread_join(thread, nil) }
        running.context.listener.close()
        loops.withLock { $0 = [] }
        openCount.withLock { $0 = nil }
        state.withLock { $0 = .stopped }
        logger.info("http_server_stopped", ["forced": .bool(forced), "connections_closed": .int(forced ? left : 0)])
    }

    /// Polls `condition` every millisecond until it holds or the monotonic `deadline` passes.
    @discardableResult
    private static func waitUntil(_ deadline: UInt64, _ condition: () -> Bool) -> Bool {
        while true {
            if condition() { return true }
            if HTTPEventLoop.monotonicNow() >= deadline { return false }
            usleep(1000)
        }
    }
}
