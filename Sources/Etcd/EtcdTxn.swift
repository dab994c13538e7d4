import Platform

/// An etcd transaction: if every comparison holds, the `success` operations run, otherwise the
/// `failure` ones; all atomically at one revision. Reads in the failure branch are how a caller
/// learns *why* a guarded write did not happen.
///
/// ```swift
/// // Create the leader key only if it does not exist; otherwise read who holds it.
/// let txn = EtcdTxn(
///     compare: [.createRevision("/totp-bot/leader", .equal, 0)],
///     success: [.put("/totp-bot/leader", value: Array("host-a".utf8), lease: lease.id)],
///     failure: [.get(.key("/totp-bot/leader"))])
/// let result = try client.txn(txn)
/// ```
public struct EtcdTxn: Sendable, Equatable {
    /// How a comparison relates the key's current field to the given value.
    public enum Relation: String, Sendable, Equatable {
        case equal = "EQUAL"
        case notEqual = "NOT_EQUAL"
        case greater = "GREATER"
        case less = "LESS"
    }

    /// The field of the key a comparison looks at, with the value to compare it to. A missing
    /// key has create_revision, mod_revision and version 0.
    public enum Target: Sendable, Equatable {
        case createRevision(Int64)
        case modRevision(Int64)
        case version(Int64)
        case value([UInt8])
        case lease(Int64)
    }

    public struct Compare: Sendable, Equatable {
        public var key: String
        public var relation: Relation
        public var target: Target

        public init(key: String, relation: Relation, target: Target) {
            self.key = key
            self.relation = relation
            self.target = target
        }

        public static func createRevision(_ key: String, _ relation: Relation, _ revision: Int64) -> Compare {
            Compare(key: key, relation: relation, target: .createRevision(revision))
        }

        public static func modRevision(_ key: String, _ relation: Relation, _ revision: Int64) -> Compare {
            Compare(key: key, relation: relation, target: .modRevision(revision))
        }

        public static func version(_ key: String, _ relation: Relation, _ version: Int64) -> Compare {
            Compare(key: key, relation: relation, target: .version(version))
        }

        public static func value(_ key: String, _ relation: Relation, _ value: [UInt8]) -> Compare {
            Compare(key: key, relation: relation, target: .value(value))
        }

        var wire: EtcdWire.Compare {
            var compare = EtcdWire.Compare(result: relation.rawValue, target: "", key: EtcdWire.Bytes(Array(key.utf8)))
            switch target {
            case .createRevision(let revision):
                compare.target = "CREATE"
                compare.create_revision = EtcdWire.Int64Text(revision)
            case .modRevision(let revision):
                compare.target = "MOD"
                compare.mod_revision = EtcdWire.Int64Text(revision)
            case .version(let version):
                compare.target = "VERSION"
                compare.version = EtcdWire.Int64Text(version)
            case .value(let value):
                compare.target = "VALUE"
                compare.value = EtcdWire.Bytes(value)
            case .lease(let lease):
                compare.target = "LEASE"
                compare.lease = EtcdWire.Int64Text(lease)
            }
            return compare
        }
    }

    /// One operation of a branch.
    public enum Operation: Sendable, Equatable {
        case get(EtcdKeyRange)
        /// `lease` 0 attaches none.
        case put(String, value: [UInt8], lease: Int64 = 0)
        case delete(EtcdKeyRange)

        var wire: EtcdWire.RequestOp {
            switch self {
            case .get(let range):
                return EtcdWire.RequestOp(request_range: EtcdWire.RangeRequest(
                    key: EtcdWire.Bytes(range.key), range_end: range.rangeEnd.map(EtcdWire.Bytes.init)))
            case .put(let key, let value, let lease):
                return EtcdWire.RequestOp(request_put: EtcdWire.PutRequest(
                    key: EtcdWire.Bytes(Array(key.utf8)), value: EtcdWire.Bytes(value),
                    lease: lease == 0 ? nil : EtcdWire.Int64Text(lease)))
            case .delete(let range):
                return EtcdWire.RequestOp(request_delete_range: EtcdWire.DeleteRangeRequest(
                    key: EtcdWire.Bytes(range.key), range_end: range.rangeEnd.map(EtcdWire.Bytes.init)))
            }
        }
    }

    public var compare: [Compare]
    public var success: [Operation]
    public var failure: [Operation]

    public init(compare: [Compare], success: [Operation], failure: [Operation] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }

    var wire: EtcdWire.TxnRequest {
        EtcdWire.TxnRequest(compare: compare.map(\.wire), success: success.map(\.wire), failure: failure.map(\.wire))
    }
}
