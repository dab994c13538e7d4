import Synchronization
import Platform
import TLS

/// Everything the event loops of one server share: the listener, the handler, limits as
/// monotonic nanoseconds, the connection count used for the cap and the per-client counts.
/// Immutable apart from the atomic and the locked per-client counts.
///
/// ```swift
/// let context = HTTPServerContext(configuration: config, listener: listener, logger: log, handler: handler)
/// context.openConnections.load(ordering: .relaxed)
/// ```
final class HTTPServerContext: Sendable {
    let listener: SocketListener
    let handler: HTTPHandler
    let logger: Logger
    let maxRequestLineBytes: Int
    let maxHeaderBytes: Int
    let maxHeaderCount: Int
    let maxConnections: Int
    /// What every connection's state machine times.
    let timeouts: HTTPConnectionStateMachine.Timeouts
    /// Open connections across all loops.
    let openConnections = Atomic<Int>(0)
    /// Refusals and timeouts, for metrics.
    let counters = HTTPServerCounters()
    let evictIdleAtCap: Bool
    /// TLS contexts for new connections; nil: plain HTTP.
    let tls: TLSContextStore?
    /// Open connections per client address, across loops.
    private let perClient: Mutex<HTTPClientConnectionCounts>
    private let hasPerClientLimit: Bool

    init(configuration: HTTPServerConfiguration, listener: SocketListener, logger: Logger, handler: @escaping HTTPHandler) {
        self.listener = listener
        self.handler = handler
        self.logger = logger
        maxRequestLineBytes = configuration.maxRequestLineBytes
        maxHeaderBytes = configuration.maxHeaderBytes
        maxHeaderCount = configuration.maxHeaderCount
        maxConnections = configuration.maxConnections
        timeouts = HTTPConnectionStateMachine.Timeouts(
            header: configuration.headerReadTimeout.nanosecondsClamped,
            idle: configuration.idleTimeout.nanosecondsClamped,
            write: configuration.writeTimeout.nanosecondsClamped)
        perClient = Mutex(HTTPClientConnectionCounts(
            limit: configuration.maxConnectionsPerClient, exempt: configuration.perClientLimitExempt))
        hasPerClientLimit = configuration.maxConnectionsPerClient > 0
        evictIdleAtCap = configuration.evictIdleAtCap
        tls = configuration.tls
    }

    /// Counts a new connection from `address` against the per-client limit; a `.counted` one
    /// must be released on close.
    func admitClient(_ address: String) -> HTTPClientConnectionCounts.Admission {
        guard hasPerClientLimit else { return .notCounted }  // no lock when there is no limit
        return perClient.withLock { $0.admit(address) }
    }

    /// Undoes `admitClient` for a closed connection that was counted.
    func releaseClient(_ address: String) {
        perClient.withLock { $0.release(address) }
    }

    var parser: HTTPRequestParser {
        HTTPRequestParser(
            maxRequestLineBytes: maxRequestLineBytes, maxHeaderBytes: maxHeaderBytes, maxHeaderCount: maxHeaderCount)
    }
}
