import FoundationEssentials

extension EtcdClient {
    /// Grants a lease of `ttlSeconds` (etcd raises a TTL below its minimum, about 1.5 s with the
    /// default election timeout; the answer holds the TTL granted). `id` 0 lets etcd choose.
    public func grantLease(ttlSeconds: Int64, id: Int64 = 0, budget: Duration? = nil) throws(EtcdError) -> EtcdLease {
        guard ttlSeconds > 0 else { throw .invalidRequest("an etcd lease needs a TTL of at least 1 second") }
        let request = EtcdWire.LeaseGrantRequest(TTL: EtcdWire.Int64Text(ttlSeconds), ID: id == 0 ? nil : EtcdWire.Int64Text(id))
        let response = try call("/v3/lease/grant", request, as: EtcdWire.LeaseGrantResponse.self, budget: budget)
        if let error = response.error, !error.isEmpty {
            throw .rejected(status: 200, grpcCode: nil, String(error.prefix(200)))
        }
        guard let granted = response.ID?.value, let ttl = response.TTL?.value, ttl > 0 else {
            throw .badResponse("/v3/lease/grant answered without a lease ID or TTL")
        }
        return EtcdLease(id: granted, ttlSeconds: ttl)
    }

    /// Renews `lease` for its full TTL once and returns it. Throws `.leaseNotFound` when the lease
    /// expired or was revoked (etcd answers that with a TTL of 0). The renewal counts from when
    /// etcd received the request, so a caller measuring its fence takes the time *before* calling.
    @discardableResult
    public func keepAlive(lease: Int64, budget: Duration? = nil) throws(EtcdError) -> EtcdLease {
        // The gateway maps the gRPC stream to one request and one line `{"result": {...}}`.
        let line = try call(
            "/v3/lease/keepalive", EtcdWire.LeaseIDRequest(ID: EtcdWire.Int64Text(lease)),
            as: EtcdWire.StreamLine<EtcdWire.LeaseKeepAliveResponse>.self, budget: budget,
            serverFailure: Self.streamedServerFailure)
        if let error = line.error {
            throw Self.error(status: error.http_code ?? 500, grpcCode: error.grpc_code, message: error.message ?? "")
        }
        guard let result = line.result else { throw .badResponse("/v3/lease/keepalive answered without a result") }
        guard let ttl = result.TTL?.value, ttl > 0 else { throw .leaseNotFound(lease) }
        return EtcdLease(id: lease, ttlSeconds: ttl)
    }

    /// Revokes `lease` at once: every key attached to it is deleted (how a leader resigns).
    public func revokeLease(_ lease: Int64, budget: Duration? = nil) throws(EtcdError) {
        do {
            _ = try call(
                "/v3/lease/revoke", EtcdWire.LeaseIDRequest(ID: EtcdWire.Int64Text(lease)),
                as: EtcdWire.LeaseRevokeResponse.self, budget: budget)
        } catch let error where error == .leaseNotFound {
            throw .leaseNotFound(lease)
        }
    }

    /// The remaining and granted TTL of `lease` (and its keys when `withKeys`); `.leaseNotFound`
    /// once it expired or was revoked.
    public func timeToLive(lease: Int64, withKeys: Bool = false, budget: Duration? = nil) throws(EtcdError) -> EtcdLeaseStatus {
        let response = try call(
            "/v3/lease/timetolive", EtcdWire.LeaseTimeToLiveRequest(ID: EtcdWire.Int64Text(lease), keys: withKeys ? true : nil),
            as: EtcdWire.LeaseTimeToLiveResponse.self, budget: budget)
        let remaining = response.TTL?.value ?? 0
        // etcd answers -1 for a lease it does not know.
        guard remaining >= 0 else { throw .leaseNotFound(lease) }
        return EtcdLeaseStatus(
            id: lease, remainingSeconds: remaining, grantedSeconds: response.grantedTTL?.value ?? 0,
            keys: (response.keys ?? []).map(\.bytes))
    }

    /// A streamed answer's error line with a 5xx code (e.g. the member has no raft leader).
    static func streamedServerFailure(_ body: [UInt8]) -> String? {
        guard let line = try? JSONDecoder().decode(EtcdWire.StreamLine<EtcdWire.LeaseKeepAliveResponse>.self, from: Data(body)),
              let error = line.error, (error.http_code ?? 0) >= 500 else { return nil }
        return "HTTP \(error.http_code ?? 0) \(String((error.message ?? "").prefix(200)))"
    }
}
