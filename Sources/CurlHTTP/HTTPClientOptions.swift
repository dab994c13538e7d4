import Platform

/// Settings shared by every request of one `HTTPClient`.
///
/// ```swift
/// var options = HTTPClientOptions(userAgent: "totp-bot/1.0")
/// options.caFile = "/etc/totp/gateway-ca.pem"   // trust only this CA for the gateways
/// ```
public struct HTTPClientOptions: Sendable {
    /// `User-Agent` header sent with every request.
    public var userAgent: String
    /// PEM bundle of trusted CAs (`CURLOPT_CAINFO`); `nil` uses the system store.
    public var caFile: String?
    /// PEM client certificate presented to servers that ask for one (`CURLOPT_SSLCERT`), e.g.
    /// etcd started with `--client-cert-auth`; `nil` presents none.
    public var clientCertificateFile: String?
    /// PEM private key of `clientCertificateFile` (`CURLOPT_SSLKEY`); only its path is kept here.
    public var clientKeyFile: String?
    /// Logs curl's informational lines (connects, connection reuse) at debug level. Header and
    /// body traffic is never logged, so credentials cannot leak through this switch.
    public var verbose = false
    /// Where `verbose` lines go; `nil` means a debug-level logger on standard error.
    public var verboseLogger: Logger?
    /// Largest response body accepted; a bigger one fails with `.other` instead of eating memory.
    public var maxResponseBytes = 8 << 20
    /// TCP keep-alive on every new connection; nil leaves it off (curl's default).
    public var tcpKeepAlive: TCPKeepAlive?

    /// After `idle` without traffic on a connection the kernel probes the peer every `interval`
    /// (`CURLOPT_TCP_KEEPALIVE`, `_KEEPIDLE`, `_KEEPINTVL`; whole seconds, at least 1). A peer
    /// that vanished without a reset is then noticed, and a NAT or load balancer on the way sees
    /// traffic on an idle long-poll and keeps its connection.
    ///
    /// ```swift
    /// options.tcpKeepAlive = .init(idle: .seconds(30), interval: .seconds(15))
    /// ```
    public struct TCPKeepAlive: Sendable, Equatable {
        public var idle: Duration
        public var interval: Duration

        public init(idle: Duration, interval: Duration) {
            self.idle = idle
            self.interval = interval
        }
    }

    public init(userAgent: String, caFile: String? = nil, verbose: Bool = false) {
        self.userAgent = userAgent
        self.caFile = caFile
        self.verbose = verbose
    }
}
