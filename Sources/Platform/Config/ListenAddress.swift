/// `HOST:PORT` (IPv4 or `[IPv6]`) to listen on, as given to `--listen`, `GATEWAY_LISTEN` or
/// `BOT_LISTEN`: an IP literal, since neither program resolves names at start-up.
///
/// ```swift
/// try ListenAddress(parsing: "127.0.0.1:8080", source: "--listen")   // host 127.0.0.1, port 8080
/// ```
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String, source: String) throws(ConfigProblem) {
        do { self = try Self(parsing: text) } catch { throw ConfigProblem(source: source, message: error.description) }
    }

    /// The parse alone; the message names no source.
    public init(parsing text: String) throws(ConfigProblemMessage) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ConfigProblemMessage("expected [IPv6]:PORT, e.g. [::1]:8080")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ConfigProblemMessage("expected HOST:PORT, e.g. 127.0.0.1:8080")
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            throw ConfigProblemMessage("port must be a number from 0 to 65535")
        }
        guard !hostPart.isEmpty else { throw ConfigProblemMessage("missing host (use 0.0.0.0 for every interface)") }
        // The server binds IP literals only (no name resolution at start-up), so say so here
        // rather than when binding.
        guard (try? SocketAddress(ipLiteral: String(hostPart), port: port)) != nil else {
            throw ConfigProblemMessage("'\(hostPart)' is not an IPv4 or IPv6 address; use e.g. 127.0.0.1, 0.0.0.0 or [::]")
        }
        self.host = String(hostPart)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
