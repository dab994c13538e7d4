/// One HTTP request for `HTTPClient.perform`.
///
/// ```swift
/// var request = HTTPClientRequest(method: "POST", url: "https://chat.example.com/api/v1/messages")
/// request.body = FormEncoding.encode([("type", "private"), ("to", "[42]"), ("content", "hi")])
/// request.headers = [("Content-Type", "application/x-www-form-urlencoded")]
/// request.basicAuth = (user: "bot@example.com", password: apiKey)
/// ```
public struct HTTPClientRequest: Sendable, CustomStringConvertible {
    /// `GET`, `POST`, `PATCH`, `DELETE` (also `PUT`, `HEAD`).
    public var method: String
    /// Absolute `http://` or `https://` URL; other schemes are refused by curl.
    public var url: String
    /// Extra request headers, sent in order. Names and values must not contain CR or LF.
    public var headers: [(String, String)]
    /// Request body (e.g. form-encoded); `nil` sends none.
    public var body: [UInt8]?
    /// Limit for the whole exchange, connect included.
    public var timeout: Duration
    /// Limit for the TCP (and TLS) connect alone.
    public var connectTimeout: Duration
    /// HTTP Basic credentials, passed to curl as `CURLOPT_USERNAME`/`PASSWORD`; never logged.
    public var basicAuth: (user: String, password: String)?
    /// Overrides `HTTPClientOptions.caFile` for this request.
    public var caFile: String?
    /// Overrides `HTTPClientOptions.userAgent` for this request.
    public var userAgent: String?
    /// Connects to this Unix domain socket instead of the URL's host and port
    /// (`CURLOPT_UNIX_SOCKET_PATH`); the URL still gives the scheme, `Host` header and path.
    public var unixSocketPath: String?

    public init(
        method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        timeout: Duration = .seconds(10), connectTimeout: Duration = .seconds(5),
        basicAuth: (user: String, password: String)? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.basicAuth = basicAuth
    }

    /// Method and URL only: header values and credentials may be secrets.
    public var description: String {
        "\(method) \(url) (\(headers.count) headers, \(body?.count ?? 0) body bytes\(basicAuth == nil ? "" : ", basic auth"))"
    }

    /// Strings that must never appear in a message derived from this request.
    var secrets: [String] {
        var out: [String] = []
        if let auth = basicAuth, !auth.password.isEmpty { out.append(auth.password) }
        for (name, value) in headers where name.lowercased() == "authorization" {
            out.append(value)
            // "Bearer abc": the bare token may be echoed too.
            if let space = value.firstIndex(of: " ") {
                let token = value[value.index(after: space)...]
                if token.count >= 4 { out.append(String(token)) }
            }
        }
        return out
    }
}
