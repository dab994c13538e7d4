import Platform

/// `HOST:PORT` (IPv4 or `[IPv6]`), as given to `--listen` or `GATEWAY_LISTEN`.
///
/// ```swift
/// try ListenAddress(parsing: "127.0.0.1:8080", source: "--listen")   // host 127.0.0.1, port 8080
/// ```
struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    let host: String
    let port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init(parsing text: String, source: String) throws(ConfigProblem) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ConfigProblem(source: source, message: "expected [IPv6]:PORT, e.g. [::1]:8080")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ConfigProblem(source: source, message: "expected HOST:PORT, e.g. 127.0.0.1:8080")
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            throw ConfigProblem(source: source, message: "port must be a number from 0 to 65535")
        }
        guard !hostPart.isEmpty else { throw ConfigProblem(source: source, message: "missing host (use 0.0.0.0 for every interface)") }
        // The server binds IP literals only (no name resolution at start-up), so say so here
        // rather than when binding.
        guard (try? SocketAddress(ipLiteral: String(hostPart), port: port)) != nil else {
            throw ConfigProblem(source: source, message: "'\(hostPart)' is not an IPv4 or IPv6 address; use e.g. 127.0.0.1, 0.0.0.0 or [::]")
        }
        self.host = String(hostPart)
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
