/// The answer to a range read.
///
/// ```swift
/// let result = try client.range(.prefix("/totp-bot/claims/"), limit: 100)
/// for kv in result.kvs { ... }
/// if result.more { /* read on from the last key */ }
/// ```
public struct EtcdRangeResult: Sendable, Equatable {
    public var kvs: [EtcdKeyValue]
    /// Keys in the range (may exceed `kvs.count` when a limit applied).
    public var count: Int64
    /// True when a limit cut the answer short.
    public var more: Bool
    /// The store's revision when the read was served.
    public var revision: Int64

    init(_ wire: EtcdWire.RangeResponse) {
        kvs = (wire.kvs ?? []).map(EtcdKeyValue.init)
        count = wire.count?.value ?? 0
        more = wire.more ?? false
        revision = wire.header?.revision?.value ?? 0
    }
}
