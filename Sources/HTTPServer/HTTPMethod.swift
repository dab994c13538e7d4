/// A request method. Only `GET` and `HEAD` are served; anything else is kept verbatim so the
/// server can answer `405` with `Allow: GET, HEAD`. Methods are case-sensitive (RFC 9110 9.1):
/// `get` is `.other("get")`.
///
/// ```swift
/// HTTPMethod.get.description           // "GET"
/// HTTPMethod.other("PUT").description    // "PUT"
/// ```
public enum HTTPMethod: Sendable, Equatable, Hashable, CustomStringConvertible {
    case get
    case head
    case other(String)

    public var description: String {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .other(let token): token
        }
    }
}
