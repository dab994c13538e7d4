/// One parsed request head. Requests never carry a body: the server refuses any with `413`.
/// `path` is the raw (not percent-decoded) path of an origin-form target and `query` the raw
/// text after `?`; `queryItems()` decodes it.
///
/// ```swift
/// let request = HTTPRequest(path: "/code", query: "label=a%20b&x=1+2")
/// request.queryItems()   // [("label", "a b"), ("x", "1 2")]
/// ```
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// Raw path, e.g. `/code` (`*` for an asterisk-form target).
    public var path: String
    /// Raw query without the leading `?`, or `nil` when the target has no `?`.
    public var query: String?
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// Peer IP address as text (`127.0.0.1`, `::1`); empty when not from a socket.
    public var remoteAddress: String
    /// Subject common name of the client certificate verified by mutual TLS; nil without one.
    public var clientCertificate: String?

    public init(
        method: HTTPMethod = .get, path: String, query: String? = nil, version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = HTTPHeaders(), remoteAddress: String = ""
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.remoteAddress = remoteAddress
    }

    /// The request target as sent: path plus `?query` when present.
    public var target: String {
        guard let query else { return path }
        return path + "?" + query
    }

    /// Query parameters in order, split on `&`, percent-decoded, with `+` read as a space.
    /// Empty pieces are skipped; a piece without `=` has an empty value; malformed `%` escapes
    /// are kept literally; invalid UTF-8 becomes U+FFFD.
    public func queryItems() -> [(String, String)] {
        guard let query, !query.isEmpty else { return [] }
        var items: [(String, String)] = []
        for piece in query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            if let eq = piece.firstIndex(of: UInt8(ascii: "=")) {
                items.append((
                    HTTPRequest.formDecode(piece[piece.startIndex..<eq]),
                    HTTPRequest.formDecode(piece[piece.index(after: eq)...])
                ))
            } else {
                items.append((HTTPRequest.formDecode(piece), ""))
            }
        }
        return items
    }

    /// Decodes `application/x-www-form-urlencoded` text: `%XX` escapes and `+` as space.
    public static func formDecode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i != bytes.endIndex {
            let c = bytes[i]
            if c == UInt8(ascii: "+") {
                out.append(0x20)
            } else if c == UInt8(ascii: "%") {
                let h1 = bytes.index(after: i)
                if h1 != bytes.endIndex {
                    let h2 = bytes.index(after: h1)
                    if h2 != bytes.endIndex, let hi = hexValue(bytes[h1]), let lo = hexValue(bytes[h2]) {
                        out.append(hi << 4 | lo)
                        i = bytes.index(after: h2)
                        continue
                    }
                }
                out.append(c)
            } else {
                out.append(c)
            }
            i = bytes.index(after: i)
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
