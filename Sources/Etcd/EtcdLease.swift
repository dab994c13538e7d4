/// A granted lease: keys attached to it are deleted when it expires or is revoked.
///
/// ```swift
/// let lease = try client.grantLease(ttlSeconds: 5)   // etcd may raise a TTL below its minimum
/// try client.put("/totp-bot/leader", value: Array("host-a".utf8), lease: lease.id)
/// ```
public struct EtcdLease: Sendable, Equatable {
    public var id: Int64
    /// The TTL etcd granted, in seconds (at least its minimum, about 1.5 s by default).
    public var ttlSeconds: Int64

    public init(id: Int64, ttlSeconds: Int64) {
        self.id = id
        self.ttlSeconds = ttlSeconds
    }
}
