import Synchronization

/// Everything the event loops of one server share: the listener, the handler, limits as
/// monotonic nanoseconds, and the connection count used for the cap. Immutable apart from
/// the atomic.
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
    let headerReadTimeout: UInt64
    let idleTimeout: UInt64
    let writeTimeout: UInt64
    /// How long a connection closed after an error keeps draining the peer's unread bytes.
    let lingerTimeout: UInt64 = 2_000_000_000
    /// Open connections across all loops.
    let openConnections = Atomic<Int>(0)
    /// Refusals and timeouts, for metrics.
    let counters = HTTPServerCounters()

    init(configuration: HTTPServerConfiguration, listener: SocketListener, logger: Logger, handler: @escaping HTTPHandler) {
        self.listener = listener
        self.handler = handler
        self.logger = logger
        maxRequestLineBytes = configuration.maxRequestLineBytes
        maxHeaderBytes = configuration.maxHeaderBytes
        maxHeaderCount = configuration.maxHeaderCount
        maxConnections = configuration.maxConnections
        headerReadTimeout = configuration.headerReadTimeout.nanosecondsClamped
        idleTimeout = configuration.idleTimeout.nanosecondsClamped
        writeTimeout = configuration.writeTimeout.nanosecondsClamped
    }

    var parser: HTTPRequestParser {
        HTTPRequestParser(
            maxRequestLineBytes: maxRequestLineBytes, maxHeaderBytes: maxHeaderBytes, maxHeaderCount: maxHeaderCount)
    }
}
