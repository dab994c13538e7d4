/// One key as etcd stores it. Revisions are etcd's cluster-wide counters: `createRevision` is
/// when this incarnation of the key was created (0 never appears for an existing key), which
/// makes it a fencing token for a key created by an election.
///
/// ```swift
/// if let kv = try client.get("/totp-bot/leader") {
///     print(kv.keyText, kv.createRevision, kv.lease)   // value bytes are the caller's to print or not
/// }
/// ```
public struct EtcdKeyValue: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    /// Number of writes since creation (1 after the first put).
    public var version: Int64
    /// ID of the lease the key is attached to; 0 for none.
    public var lease: Int64

    public init(key: [UInt8], value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: Int64) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }

    /// The key as UTF-8 text (every key this project writes is text).
    public var keyText: String { String(decoding: key, as: UTF8.self) }

    init(_ wire: EtcdWire.KeyValue) {
        self.init(
            key: wire.key?.bytes ?? [], value: wire.value?.bytes ?? [],
            createRevision: wire.create_revision?.value ?? 0, modRevision: wire.mod_revision?.value ?? 0,
            version: wire.version?.value ?? 0, lease: wire.lease?.value ?? 0)
    }
}
