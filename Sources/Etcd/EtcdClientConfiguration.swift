/// Where and how `EtcdClient` reaches etcd. Parsed and checked once, at start-up.
///
/// ```swift
/// var configuration = try EtcdClientConfiguration(endpoints: ["https://10.0.0.5:2379", "https://10.0.0.6:2379"])
/// configuration.caFile = "/etc/totp/etcd-ca.pem"
/// configuration.clientCertificateFile = "/etc/totp/etcd-client.pem"
/// configuration.clientKeyFile = "/etc/totp/etcd-client.key"
/// ```
public struct EtcdClientConfiguration: Sendable {
    /// The members to try, in order, starting with the one that answered last.
    public var endpoints: [EtcdEndpoint]
    /// Limit for one request to one member, connect included. Default 1 s: etcd answers in
    /// milliseconds unless it has no raft leader. When the raft leader dies, a follower holds
    /// requests until its own request timeout (about 7 s); by the time this limit moves on to
    /// the next member, the survivors have usually elected a new raft leader (election timeout 1 s).
    public var attemptTimeout: Duration = .seconds(1)
    /// Limit for connecting to one member. Default 1 s.
    public var connectTimeout: Duration = .seconds(1)
    /// PEM bundle of CAs trusted for the members' certificates; nil uses the system store.
    public var caFile: String?
    /// PEM client certificate, for members started with `--client-cert-auth`.
    public var clientCertificateFile: String?
    /// PEM private key of `clientCertificateFile`.
    public var clientKeyFile: String?
    /// `User-Agent` of every request.
    public var userAgent = "totp-bot-etcd"
    /// Largest answer accepted (a range or one watch line). Default 8 MiB.
    public var maxResponseBytes = 8 << 20

    public init(endpoints: [String]) throws(EtcdError) {
        guard !endpoints.isEmpty else {
            throw .invalidRequest("no etcd endpoint given; list the members' client URLs, e.g. http://127.0.0.1:2379")
        }
        var parsed: [EtcdEndpoint] = []
        for text in endpoints { parsed.append(try EtcdEndpoint(text)) }
        self.endpoints = parsed
    }

    /// Refuses settings that cannot work together.
    func validate() throws(EtcdError) {
        if (clientCertificateFile == nil) != (clientKeyFile == nil) {
            throw .invalidRequest("an etcd client certificate needs its key and a key needs its certificate; set both or neither")
        }
        if attemptTimeout <= .zero || connectTimeout <= .zero {
            throw .invalidRequest("etcd timeouts must be positive")
        }
    }
}
