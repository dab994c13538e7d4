/// Open connections per client address, for the per-client limit: one client (one address) gets
/// at most `limit` of the server's connections, so it cannot hold every slot. Addresses the
/// limit does not apply to (proxies carrying many clients) are not counted. An entry goes when
/// its count returns to zero, so the table is bounded by the open connections. A value: the
/// server keeps one behind a lock, touched on accept and close only, never per request.
///
/// ```swift
/// var counts = HTTPClientConnectionCounts(limit: 2, exempt: { $0 == "10.0.0.1" })
/// counts.admit("192.0.2.7")   // .counted
/// counts.admit("10.0.0.1")    // .notCounted
/// counts.release("192.0.2.7")
/// ```
struct HTTPClientConnectionCounts {
    /// What `admit` decided.
    enum Admission: Equatable {
        /// Counted: call `release` when the connection closes.
        case counted
        /// Admitted without counting (no limit, or an exempt address): nothing to release.
        case notCounted
        /// The address already holds `limit` connections: refuse this one.
        case refused
    }

    /// 0: no limit.
    let limit: Int
    let exempt: @Sendable (String) -> Bool
    private var counts: [String: Int] = [:]

    init(limit: Int, exempt: @escaping @Sendable (String) -> Bool) {
        self.limit = limit
        self.exempt = exempt
    }

    /// Addresses holding at least one counted connection.
    var addressCount: Int { counts.count }

    mutating func admit(_ address: String) -> Admission {
        guard limit > 0, !exempt(address) else { return .notCounted }
        let n = counts[address, default: 0]
        if n >= limit { return .refused }
        counts[address] = n + 1
        return .counted
    }

    /// Undoes a `.counted` admission.
    mutating func release(_ address: String) {
        let n = counts[address, default: 0]
        if n <= 1 { counts[address] = nil } else { counts[address] = n - 1 }
    }
}
