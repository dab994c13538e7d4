/// The answer to a transaction: which branch ran and each of its operations' results, in order.
///
/// ```swift
/// let result = try client.txn(txn)
/// if !result.succeeded, case .range(let holder)? = result.responses.first {
///     print("held since revision", holder.kvs.first?.createRevision ?? 0)
/// }
/// ```
public struct EtcdTxnResult: Sendable, Equatable {
    public enum OperationResult: Sendable, Equatable {
        case range(EtcdRangeResult)
        /// The revision the put was written at.
        case put(revision: Int64)
        case delete(deleted: Int64)
    }

    /// True when every comparison held (the success branch ran).
    public var succeeded: Bool
    /// The store's revision after the transaction (its own revision if it wrote).
    public var revision: Int64
    public var responses: [OperationResult]

    init(_ wire: EtcdWire.TxnResponse) throws(EtcdError) {
        succeeded = wire.succeeded ?? false
        revision = wire.header?.revision?.value ?? 0
        var responses: [OperationResult] = []
        for op in wire.responses ?? [] {
            if let range = op.response_range {
                responses.append(.range(EtcdRangeResult(range)))
            } else if let put = op.response_put {
                responses.append(.put(revision: put.header?.revision?.value ?? 0))
            } else if let delete = op.response_delete_range {
                responses.append(.delete(deleted: delete.deleted?.value ?? 0))
            } else {
                throw EtcdError.badResponse("a transaction answer holds an operation of an unknown kind")
            }
        }
        self.responses = responses
    }

    /// The range result at `index`, if that operation was a read.
    public func range(at index: Int) -> EtcdRangeResult? {
        guard responses.indices.contains(index), case .range(let range) = responses[index] else { return nil }
        return range
    }
}
