/// The final response of an exchange (interim `100 Continue` answers are dropped).
///
/// ```swift
/// let response = try http.perform(request)
/// if response.status == 200, response.header("content-type") == "application/json" { ... }
/// ```
public struct HTTPClientResponse: Sendable {
    /// Status code of the final response, e.g. `200`.
    public var status: Int
    /// Response headers in arrival order, names as the server spelled them.
    public var headers: [(String, String)]
    /// Response body as received (no content decoding is requested).
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Value of the first header named `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.0.lowercased() == wanted }?.1
    }
}
