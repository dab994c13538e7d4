#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 socket address built from an IP literal (no name resolution, on purpose:
/// listen addresses are configuration, and DNS at start-up is a failure mode we do not want).
///
/// ```swift
/// let address = try SocketAddress(ipLiteral: "127.0.0.1", port: 8080)
/// address.ipText   // "127.0.0.1"
/// ```
public struct SocketAddress: Sendable {
    public private(set) var storage = sockaddr_storage()
    public private(set) var length: socklen_t = 0

    /// `AF_INET` or `AF_INET6`.
    public var family: Int32 { Int32(storage.ss_family) }

    /// Parses `host` (`0.0.0.0`, `127.0.0.1`, `::1`, `[::1]`) and `port` (0...65535).
    public init(ipLiteral host: String, port: Int) throws(SocketAddressError) {
        guard (0...65535).contains(port) else {
            throw SocketAddressError("port \(port) is out of range; use 0...65535")
        }
        var literal = host
        if literal.hasPrefix("[") && literal.hasSuffix("]") { literal = String(literal.dropFirst().dropLast()) }
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, literal, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            store(v4)
            return
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, literal, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            store(v6)
            return
        }
        throw SocketAddressError("'\(host)' is not an IPv4 or IPv6 literal; use e.g. 127.0.0.1, 0.0.0.0 or ::1")
    }

    /// Copies a filled-in `sockaddr_in` or `sockaddr_in6` into `storage`.
    private mutating func store<Address>(_ address: Address) {
        withUnsafeMutableBytes(of: &storage) { dst in
            withUnsafeBytes(of: address) { dst.copyMemory(from: $0) }
        }
        length = socklen_t(MemoryLayout<Address>.size)
    }

    /// Wraps an address filled in by the kernel (`accept`, `getsockname`).
    public init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    /// The IP address as text (`127.0.0.1`, `::1`), or `""` for other families.
    public var ipText: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        var copy = storage
        let ok: Bool = withUnsafePointer(to: &copy) { ptr in
            switch Int32(storage.ss_family) {
            case AF_INET:
                return ptr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var addr = sin.pointee.sin_addr
                    return inet_ntop(AF_INET, &addr, &text, socklen_t(text.count)) != nil
                }
            case AF_INET6:
                return ptr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    var addr = sin6.pointee.sin6_addr
                    // An IPv4 peer of a dual-stack listener (::ffff:a.b.c.d) is shown as IPv4, so
                    // it matches IPv4 allow-lists and reads the same in logs.
                    let mapped = withUnsafeBytes(of: &addr) { b in b[0..<10].allSatisfy { $0 == 0 } && b[10] == 0xFF && b[11] == 0xFF }
                    if mapped {
                        var v4 = in_addr()
                        withUnsafeMutableBytes(of: &v4) { dst in withUnsafeBytes(of: &addr) { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[12..<16])) } }
                        return inet_ntop(AF_INET, &v4, &text, socklen_t(text.count)) != nil
                    }
                    return inet_ntop(AF_INET6, &addr, &text, socklen_t(text.count)) != nil
                }
            default:
                return false
            }
        }
        guard ok else { return "" }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The port in host byte order.
    public var port: Int {
        var copy = storage
        return withUnsafePointer(to: &copy) { ptr in
            switch Int32(storage.ss_family) {
            case AF_INET:
                ptr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            case AF_INET6:
                ptr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            default:
                0
            }
        }
    }
}
