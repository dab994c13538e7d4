extension EtcdClient {
    /// The key, or nil if it does not exist.
    public func get(_ key: String, budget: Duration? = nil) throws(EtcdError) -> EtcdKeyValue? {
        try range(.key(key), budget: budget).kvs.first
    }

    /// Keys in `range` in byte order, at most `limit` (0: no limit), as of `revision` (0: now).
    public func range(
        _ range: EtcdKeyRange, limit: Int64 = 0, revision: Int64 = 0, budget: Duration? = nil
    ) throws(EtcdError) -> EtcdRangeResult {
        let request = EtcdWire.RangeRequest(
            key: EtcdWire.Bytes(range.key), range_end: range.rangeEnd.map(EtcdWire.Bytes.init),
            limit: limit == 0 ? nil : EtcdWire.Int64Text(limit), revision: revision == 0 ? nil : EtcdWire.Int64Text(revision))
        return EtcdRangeResult(try call("/v3/kv/range", request, as: EtcdWire.RangeResponse.self, budget: budget))
    }

    /// Writes `value` at `key`, attached to `lease` (0: none); returns the write's revision.
    /// `.leaseNotFound` if the lease is gone.
    @discardableResult
    public func put(_ key: String, value: [UInt8], lease: Int64 = 0, budget: Duration? = nil) throws(EtcdError) -> Int64 {
        let request = EtcdWire.PutRequest(
            key: EtcdWire.Bytes(Array(key.utf8)), value: EtcdWire.Bytes(value),
            lease: lease == 0 ? nil : EtcdWire.Int64Text(lease))
        let response = try call("/v3/kv/put", request, as: EtcdWire.PutResponse.self, budget: budget)
        return response.header?.revision?.value ?? 0
    }

    /// Deletes every key in `range`; returns how many there were.
    @discardableResult
    public func deleteRange(_ range: EtcdKeyRange, budget: Duration? = nil) throws(EtcdError) -> Int64 {
        let request = EtcdWire.DeleteRangeRequest(key: EtcdWire.Bytes(range.key), range_end: range.rangeEnd.map(EtcdWire.Bytes.init))
        return try call("/v3/kv/deleterange", request, as: EtcdWire.DeleteRangeResponse.self, budget: budget).deleted?.value ?? 0
    }

    /// Runs `txn` atomically. A comparison that fails is not an error: `succeeded` is false and
    /// the failure branch's results tell what was found.
    public func txn(_ txn: EtcdTxn, budget: Duration? = nil) throws(EtcdError) -> EtcdTxnResult {
        try EtcdTxnResult(try call("/v3/kv/txn", txn.wire, as: EtcdWire.TxnResponse.self, budget: budget))
    }

    /// Discards the history before `revision` (watches cannot start earlier afterwards).
    public func compact(revision: Int64, budget: Duration? = nil) throws(EtcdError) {
        _ = try call(
            "/v3/kv/compaction", EtcdWire.CompactionRequest(revision: EtcdWire.Int64Text(revision)),
            as: EtcdWire.CompactionResponse.self, budget: budget)
    }
}
