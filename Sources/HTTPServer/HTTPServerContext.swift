import Synchronization
import Platform

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
    let maxConnectionsPerClient: Int
    let perClientLimitExempt: @Sendable (String) -> Bool
    let evictIdleAtCap: Bool
    /// Open connections per client address, across loops (only addresses the per-client limit
    /// applies to; an entry goes when its count reaches 0, so the table is bounded by
    /// `maxConnections`). Touched on accept and close only, never per request.
    private let perClient = Mutex<[String: Int]>([:])

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
        maxConnectionsPerClient = configuration.maxConnectionsPerClient
        perClientLimitExempt = configuration.perClientLimitExempt
        evictIdleAtCap = configuration.evictIdleAtCap
    }

    /// Counts a new connection from `address` against the per-client limit. Returns whether it
    /// was counted (it must then be released on close), or nil when the client is at its limit.
    func admitClient(_ address: String) -> Bool? {
        guard maxConnectionsPerClient > 0, !perClientLimitExempt(address) else { return false }
        return perClient.withLock { counts -> Bool? in
            let n = counts[address, default: 0]
            if n >= maxConnectionsPerClient { return nil }
            counts[address] = n + 1
            return true
        }
    }

    /// Undoes `admitClient` for a closed connection that was counted.
    func releaseClient(_ address: String) {
        perClient.withLock { counts in
            let n = counts[address, default: 0]
            if n <= 1 { counts[address] = nil } else { counts[address] = n - 1 }
        }
    }

    var parser: HTTPRequestParser {
        HTTPRequestParser(
            maxRequestLineBytes: maxRequestLineBytes, maxHeaderBytes: maxHeaderBytes, maxHeaderCount: maxHeaderCount)
    }
}
