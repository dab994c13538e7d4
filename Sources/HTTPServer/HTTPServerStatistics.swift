import Synchronization

/// What the server refused or timed out on its own, before or instead of calling the handler:
/// protocol errors by status (400, 405, 413, 414, 431, 505), timeouts by kind, and
/// connections closed at once because the connection cap was reached. Shared by the event
/// loops; updated only on those (rare) paths.
///
/// ```swift
/// let s = server.statistics
/// s.refusals[431]        // requests answered 431 by the server itself
/// s.timeouts["header"]   // slowloris connections closed
/// ```
public struct HTTPServerStatistics: Sendable, Equatable {
    /// Server-generated error responses by status.
    public var refusals: [Int: Int]
    /// Connections closed by a timeout: `header` (request head not completed in time),
    /// `idle` (keep-alive with no new request), `write` (client not reading the response).
    public var timeouts: [String: Int]
    /// Connections accepted and closed at once because `maxConnections` were open.
    public var connectionsRejected: Int
    /// Connections accepted and closed at once because their client address already had
    /// `maxConnectionsPerClient` open.
    public var connectionsRejectedPerClient = 0
    /// Idle connections closed to make room for a new one at `maxConnections`.
    public var connectionsEvicted = 0
    /// TLS handshakes that failed (not TLS, an old protocol, no or a foreign client certificate).
    /// Handshakes that time out count as `header` timeouts.
    public var tlsHandshakeFailures = 0

    /// Every status the server itself answers, so all series exist from the start.
    public static let refusalStatuses = [400, 405, 413, 414, 431, 505]
    public static let timeoutKinds = ["header", "idle", "write"]
}

/// The counts behind `HTTPServerStatistics`, under one lock (these paths are rare; the
/// request path never takes it).
final class HTTPServerCounters: Sendable {
    private let counts = Mutex(HTTPServerStatistics(
        refusals: Dictionary(uniqueKeysWithValues: HTTPServerStatistics.refusalStatuses.map { ($0, 0) }),
        timeouts: Dictionary(uniqueKeysWithValues: HTTPServerStatistics.timeoutKinds.map { ($0, 0) }),
        connectionsRejected: 0))

    func refused(status: Int) {
        // Statuses the server does not produce itself are folded into 400, the generic refusal.
        let key = HTTPServerStatistics.refusalStatuses.contains(status) ? status : 400
        counts.withLock { $0.refusals[key, default: 0] += 1 }
    }

    func timedOut(_ kind: String) {
        counts.withLock { $0.timeouts[kind, default: 0] += 1 }
    }

    func rejectedConnection() { counts.withLock { $0.connectionsRejected += 1 } }

    func rejectedConnectionPerClient() { counts.withLock { $0.connectionsRejectedPerClient += 1 } }

    func evictedConnection() { counts.withLock { $0.connectionsEvicted += 1 } }

    func tlsHandshakeFailed() { counts.withLock { $0.tlsHandshakeFailures += 1 } }

    var snapshot: HTTPServerStatistics { counts.withLock { $0 } }
}
