import Platform

/// The JSON shapes of etcd 3.4's HTTP/JSON gateway (`/v3/...`), kept apart from the public types.
/// Keys and values travel as base64, int64 fields as decimal strings, and fields at their zero
/// value are left out (no `succeeded` means false, an empty range has no `kvs`): every field is
/// optional here and the public types fill in the zeros.
///
/// ```swift
/// let body = try JSONEncoder().encode(EtcdWire.LeaseGrantRequest(TTL: EtcdWire.Int64Text(5)))
/// let grant = try JSONDecoder().decode(EtcdWire.LeaseGrantResponse.self, from: data)
/// ```
enum EtcdWire {
    /// An integer as etcd writes 64-bit fields (`"42"`); a bare JSON number is accepted too.
    struct IntegerText<Value: FixedWidthInteger & Codable & Sendable>: Codable, Sendable, Equatable {
        var value: Value

        init(_ value: Value) { self.value = value }

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Value.self) {
                value = number
                return
            }
            let text = try container.decode(String.self)
            guard let number = Value(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a \(Value.self): \(text.prefix(24))")
            }
            value = number
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(String(value))
        }
    }

    typealias Int64Text = IntegerText<Int64>
    /// Member and cluster IDs use the whole uint64 range.
    typealias UInt64Text = IntegerText<UInt64>

    /// Bytes as base64 text (strict RFC 4648 with padding, as etcd writes it).
    struct Bytes: Codable, Sendable, Equatable {
        var bytes: [UInt8]

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let bytes = Base64.decode(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not base64")
            }
            self.bytes = bytes
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(Base64.encode(bytes))
        }
    }

    /// Only the revision is read. (`cluster_id` and `member_id` are uint64 and exceed Int64:
    /// decoding them as such would fail on half of all members.)
    struct Header: Codable, Sendable {
        var revision: Int64Text?
    }

    struct KeyValue: Codable, Sendable {
        var key: Bytes?
        var create_revision: Int64Text?
        var mod_revision: Int64Text?
        var version: Int64Text?
        var value: Bytes?
        var lease: Int64Text?
    }

    // MARK: KV

    struct RangeRequest: Codable, Sendable {
        var key: Bytes
        var range_end: Bytes?
        var limit: Int64Text?
        var revision: Int64Text?
        var keys_only: Bool?
        var count_only: Bool?
    }

    struct RangeResponse: Codable, Sendable {
        var header: Header?
        var kvs: [KeyValue]?
        var more: Bool?
        var count: Int64Text?
    }

    struct PutRequest: Codable, Sendable {
        var key: Bytes
        var value: Bytes
        var lease: Int64Text?
        var prev_kv: Bool?
    }

    struct PutResponse: Codable, Sendable {
        var header: Header?
        var prev_kv: KeyValue?
    }

    struct DeleteRangeRequest: Codable, Sendable {
        var key: Bytes
        var range_end: Bytes?
        var prev_kv: Bool?
    }

    struct DeleteRangeResponse: Codable, Sendable {
        var header: Header?
        var deleted: Int64Text?
        var prev_kvs: [KeyValue]?
    }

    struct Compare: Codable, Sendable {
        /// `EQUAL`, `GREATER`, `LESS`, `NOT_EQUAL`.
        var result: String
        /// `VERSION`, `CREATE`, `MOD`, `VALUE`, `LEASE`.
        var target: String
        var key: Bytes
        var range_end: Bytes?
        var version: Int64Text?
        var create_revision: Int64Text?
        var mod_revision: Int64Text?
        var value: Bytes?
        var lease: Int64Text?
    }

    struct RequestOp: Codable, Sendable {
        var request_range: RangeRequest?
        var request_put: PutRequest?
        var request_delete_range: DeleteRangeRequest?
    }

    struct ResponseOp: Codable, Sendable {
        var response_range: RangeResponse?
        var response_put: PutResponse?
        var response_delete_range: DeleteRangeResponse?
    }

    struct TxnRequest: Codable, Sendable {
        var compare: [Compare]
        var success: [RequestOp]
        var failure: [RequestOp]
    }

    struct TxnResponse: Codable, Sendable {
        var header: Header?
        var succeeded: Bool?
        var responses: [ResponseOp]?
    }

    /// `/v3/maintenance/status`: the member answering, and the raft leader it follows.
    struct StatusResponse: Codable, Sendable {
        struct MemberHeader: Codable, Sendable {
            var member_id: UInt64Text?
            var revision: Int64Text?
        }
        var header: MemberHeader?
        var version: String?
        var leader: UInt64Text?
        var raftTerm: UInt64Text?
    }

    struct EmptyRequest: Codable, Sendable {}

    struct CompactionRequest: Codable, Sendable {
        var revision: Int64Text
    }

    struct CompactionResponse: Codable, Sendable {
        var header: Header?
    }

    // MARK: Leases

    struct LeaseGrantRequest: Codable, Sendable {
        var TTL: Int64Text
        var ID: Int64Text?
    }

    struct LeaseGrantResponse: Codable, Sendable {
        var header: Header?
        var ID: Int64Text?
        var TTL: Int64Text?
        var error: String?
    }

    struct LeaseIDRequest: Codable, Sendable {
        var ID: Int64Text
    }

    struct LeaseTimeToLiveRequest: Codable, Sendable {
        var ID: Int64Text
        var keys: Bool?
    }

    struct LeaseKeepAliveResponse: Codable, Sendable {
        var header: Header?
        var ID: Int64Text?
        var TTL: Int64Text?
    }

    struct LeaseRevokeResponse: Codable, Sendable {
        var header: Header?
    }

    struct LeaseTimeToLiveResponse: Codable, Sendable {
        var header: Header?
        var ID: Int64Text?
        var TTL: Int64Text?
        var grantedTTL: Int64Text?
        var keys: [Bytes]?
    }

    // MARK: Watch

    struct WatchCreateRequest: Codable, Sendable {
        var key: Bytes
        var range_end: Bytes?
        var start_revision: Int64Text?
        var progress_notify: Bool?
        var prev_kv: Bool?
    }

    struct WatchRequest: Codable, Sendable {
        var create_request: WatchCreateRequest
    }

    struct Event: Codable, Sendable {
        /// Absent for `PUT` (the zero value); `DELETE` otherwise.
        var type: String?
        var kv: KeyValue?
        var prev_kv: KeyValue?
    }

    struct WatchResponse: Codable, Sendable {
        var header: Header?
        var watch_id: Int64Text?
        var created: Bool?
        var canceled: Bool?
        var compact_revision: Int64Text?
        var cancel_reason: String?
        var events: [Event]?
    }

    // MARK: Streams and errors

    /// One line of a streamed answer (`/v3/watch`, `/v3/lease/keepalive`): a result or an error.
    struct StreamLine<Result: Codable & Sendable>: Codable, Sendable {
        var result: Result?
        var error: StreamError?
    }

    /// The error object inside a streamed line.
    struct StreamError: Codable, Sendable {
        var grpc_code: Int?
        var http_code: Int?
        var message: String?
        var http_status: String?
    }

    /// The body of a non-2xx answer to a unary call: `{"error": "...", "code": 5, "message": "..."}`.
    struct UnaryError: Codable, Sendable {
        var error: String?
        var code: Int?
        var message: String?
    }
}
