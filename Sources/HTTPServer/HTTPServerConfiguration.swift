#if canImport(Glibc)
import Glibc
#endif
import TLS

/// Listening address, concurrency, limits and timeouts of an `HTTPServer`. Defaults suit a
/// small internal JSON service; tests shorten the timeouts.
///
/// ```swift
/// var config = HTTPServerConfiguration()
/// config.port = 0                                  // ephemeral; `start()` returns the port
/// config.headerReadTimeout = .milliseconds(300)
/// ```
public struct HTTPServerConfiguration: Sendable {
    /// IPv4 literal (`127.0.0.1`, `0.0.0.0`) or IPv6 literal (`::1`, `::`); no host names.
    public var host: String = "127.0.0.1"
    /// TCP port; 0 picks an ephemeral port.
    public var port: Int = 8080
    /// Event-loop threads, each with its own epoll instance (default: online CPUs).
    public var eventLoops: Int = HTTPServerConfiguration.onlineCPUs
    /// Longest request line (method, target, version) in bytes; longer is `414`.
    public var maxRequestLineBytes = 8192
    /// Largest header block in bytes (excluding the request line); larger is `431`.
    public var maxHeaderBytes = 16384
    /// Most header fields per request; more is `431`.
    public var maxHeaderCount = 100
    /// The whole request head must arrive within this, counted from its first byte (and from
    /// `accept` for a connection's first request): the slowloris defence.
    public var headerReadTimeout: Duration = .seconds(10)
    /// A keep-alive connection with no request in progress is closed after this.
    public var idleTimeout: Duration = .seconds(60)
    /// A response the peer does not read within this is abandoned and the connection closed.
    public var writeTimeout: Duration = .seconds(10)
    /// Open connections across all loops; further ones are accepted and closed at once.
    public var maxConnections = 4096
    /// `listen(2)` backlog.
    public var backlog = 1024
    /// Open connections from one client address across all loops; further ones are accepted and
    /// closed at once. 0: no per-client limit. One client holding idle sockets must not take
    /// every slot of `maxConnections`.
    public var maxConnectionsPerClient = 0
    /// Client addresses the per-client limit does not apply to: proxies in front of the server
    /// (HAProxy) carry many clients' connections from one address.
    public var perClientLimitExempt: @Sendable (String) -> Bool = { _ in false }
    /// At `maxConnections`, close the connection that has been idle longest (no request in
    /// progress) on the accepting loop to make room, instead of refusing the new one.
    public var evictIdleAtCap = false
    /// Speak TLS only, with the context the store holds when a connection is accepted (a
    /// reload swaps it); nil: plain HTTP. The TLS handshake must finish, with the first request
    /// head, within `headerReadTimeout`.
    public var tls: TLSContextStore?

    public init(
        host: String = "127.0.0.1", port: Int = 8080, eventLoops: Int = HTTPServerConfiguration.onlineCPUs,
        maxRequestLineBytes: Int = 8192, maxHeaderBytes: Int = 16384, maxHeaderCount: Int = 100,
        headerReadTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(60),
        writeTimeout: Duration = .seconds(10), maxConnections: Int = 4096, backlog: Int = 1024
    ) {
        self.host = host
        self.port = port
        self.eventLoops = eventLoops
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.headerReadTimeout = headerReadTimeout
        self.idleTimeout = idleTimeout
        self.writeTimeout = writeTimeout
        self.maxConnections = maxConnections
        self.backlog = backlog
    }

    /// Number of online CPUs (at least 1).
    public static var onlineCPUs: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}
