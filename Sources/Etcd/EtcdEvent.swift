import CurlHTTP
import Platform

/// One change a watch reports.
///
/// ```swift
/// if event.kind == .delete, event.kv.keyText == keyspace.leader { campaign() }
/// ```
public struct EtcdEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case put
        case delete
    }

    public var kind: Kind
    /// The key after the change; for a delete only `key` and `modRevision` (the deletion's revision).
    public var kv: EtcdKeyValue
    /// The key before the change, when the watch asked for it.
    public var previous: EtcdKeyValue?

    init(_ wire: EtcdWire.Event) {
        kind = wire.type == "DELETE" ? .delete : .put
        kv = EtcdKeyValue(wire.kv ?? EtcdWire.KeyValue())
        previous = wire.prev_kv.map(EtcdKeyValue.init)
    }
}
