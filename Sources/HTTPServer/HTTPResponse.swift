import Platform

/// A response from a handler. The server adds `Content-Length`, `Date` and, when needed,
/// `Connection`; handler headers with those names (or `Transfer-Encoding`) are ignored, as are
/// headers whose name is not a token or whose value holds CR, LF or other control characters.
/// For `HEAD` the handler may return the full body: the server sends its length, not its bytes.
///
/// ```swift
/// HTTPResponse(status: 200, headers: [("Content-Type", "application/json")],
///              body: Array(#"{"status":"ok"}"#.utf8))
/// ```
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A small JSON error: `{"error":"<name>","message":"<message>"}`.
    public static func jsonError(status: Int, error: String, message: String, headers: [(String, String)] = [])
        -> HTTPResponse
    {
        var text = "{\"error\":"
        JSONText.appendString(error, to: &text)
        text.append(",\"message\":")
        JSONText.appendString(message, to: &text)
        text.append("}")
        return HTTPResponse(
            status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
    }
}
