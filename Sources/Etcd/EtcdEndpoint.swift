/// One etcd member's client URL: `http://host:port`, `https://host:port`, or a Unix domain socket
/// as `unix:///absolute/path` (plain HTTP) or `unixs:///absolute/path` (TLS, the certificate
/// checked for the name `localhost`), which is what etcd's `--listen-client-urls unix://...`
/// and `unixs://...` serve.
///
/// ```swift
/// let endpoint = try EtcdEndpoint("https://10.0.0.5:2379")
/// let local = try EtcdEndpoint("unix:///run/etcd/client.sock")
/// ```
public struct EtcdEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// The endpoint as configured, for messages.
    public let text: String
    /// Scheme and authority requests go to (`http://localhost` for a Unix socket).
    let baseURL: String
    /// The socket to connect to instead of a TCP host, if any.
    let unixSocketPath: String?

    public init(_ text: String) throws(EtcdError) {
        var trimmed = text
        while trimmed.hasSuffix("/") && !trimmed.hasSuffix("://") { trimmed.removeLast() }
        self.text = trimmed
        func invalid(_ why: String) -> EtcdError {
            .invalidRequest("etcd endpoint \"\(trimmed)\" \(why); use http://host:port, https://host:port, "
                + "unix:///absolute/path or unixs:///absolute/path")
        }
        if trimmed.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            throw invalid("contains spaces or control characters")
        }
        for (scheme, base) in [("unix://", "http://localhost"), ("unixs://", "https://localhost")] where trimmed.hasPrefix(scheme) {
            let path = String(trimmed.dropFirst(scheme.count))
            guard path.hasPrefix("/"), path.count > 1 else { throw invalid("needs an absolute socket path") }
            // sockaddr_un holds 107 bytes of path plus the NUL.
            guard path.utf8.count <= 107 else { throw invalid("has a socket path longer than 107 bytes") }
            baseURL = base
            unixSocketPath = path
            return
        }
        for scheme in ["http://", "https://"] where trimmed.hasPrefix(scheme) {
            let authority = trimmed.dropFirst(scheme.count)
            guard !authority.isEmpty else { throw invalid("has no host") }
            guard !authority.contains("/"), !authority.contains("?"), !authority.contains("@") else {
                throw invalid("must be a scheme, host and port only")
            }
            baseURL = trimmed
            unixSocketPath = nil
            return
        }
        throw invalid("has an unknown scheme")
    }

    public var description: String { text }
}
