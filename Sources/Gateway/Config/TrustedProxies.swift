#if canImport(Glibc)
import Glibc
#endif
import Platform
import TextSupport

/// Peers whose `X-Forwarded-For` is believed (HAProxy in front): exact IPv4/IPv6 addresses or
/// IPv4 CIDR ranges, from `GATEWAY_TRUSTED_PROXIES`.
///
/// ```swift
/// let t = try TrustedProxies(parsing: "127.0.0.1,10.0.0.0/8")
/// t.contains("10.1.2.3")   // true
/// ```
struct TrustedProxies: Sendable, Equatable {
    private var exact: Set<String> = []
    private var ranges: [(network: UInt32, mask: UInt32)] = []

    static func == (a: TrustedProxies, b: TrustedProxies) -> Bool {
        a.exact == b.exact && a.ranges.map(\.network) == b.ranges.map(\.network) && a.ranges.map(\.mask) == b.ranges.map(\.mask)
    }

    init() {}

    init(parsing text: String) throws(ConfigProblem) {
        for item in text.split(separator: ",") {
            let entry = item.trimmingCharacters(in: " ")
            if entry.isEmpty { continue }
            if let slash = entry.firstIndex(of: "/") {
                guard let base = Self.ipv4(String(entry[..<slash])), let bits = Int(entry[entry.index(after: slash)...]), (0...32).contains(bits) else {
                    throw ConfigProblem(source: "GATEWAY_TRUSTED_PROXIES", message: "'\(entry)' is not an IPv4 CIDR like 10.0.0.0/8")
                }
                let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << UInt32(32 - bits)
                ranges.append((base & mask, mask))
            } else {
                guard let canonical = Self.canonical(entry) else {
                    throw ConfigProblem(source: "GATEWAY_TRUSTED_PROXIES", message: "'\(entry)' is not an IPv4 or IPv6 address")
                }
                exact.insert(canonical)
            }
        }
    }

    var isEmpty: Bool { exact.isEmpty && ranges.isEmpty }

    /// `address` is a peer address as the server reports it (canonical text, IPv4-mapped
    /// peers already shown as IPv4).
    func contains(_ address: String) -> Bool {
        if exact.contains(address) { return true }
        guard !ranges.isEmpty, let ip = Self.ipv4(address) else { return false }
        return ranges.contains { ip & $0.mask == $0.network }
    }

    /// The address in the canonical text form `inet_ntop` gives (`::1`, not `0:0::1`), or nil.
    static func canonical(_ text: String) -> String? {
        var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            guard inet_ntop(AF_INET, &v4, &out, socklen_t(out.count)) != nil else { return nil }
            return out.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
        var addr = in6_addr()
        guard inet_pton(AF_INET6, text, &addr) == 1 else { return nil }
        guard inet_ntop(AF_INET6, &addr, &out, socklen_t(out.count)) != nil else { return nil }
        return out.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    static func ipv4(_ text: String) -> UInt32? {
        var addr = in_addr()
        guard inet_pton(AF_INET, text, &addr) == 1 else { return nil }
        return UInt32(bigEndian: addr.s_addr)
    }
}
