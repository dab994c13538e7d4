/// What `timeToLive` reports about a live lease.
///
/// ```swift
/// let status = try client.timeToLive(lease: lease.id, withKeys: true)
/// print(status.remainingSeconds, status.keys.count)
/// ```
public struct EtcdLeaseStatus: Sendable, Equatable {
    public var id: Int64
    /// Seconds left before expiry, rounded by etcd.
    public var remainingSeconds: Int64
    /// The TTL the lease was granted with.
    public var grantedSeconds: Int64
    /// Keys attached to the lease (only when asked for).
    public var keys: [[UInt8]]
}
