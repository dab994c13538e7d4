/// The two protocol versions the server speaks. `HTTP/1.x` with a minor version above 1 is read
/// as `HTTP/1.1` (RFC 9110 6.2); other majors are refused with `505`.
///
/// ```swift
/// HTTPVersion.http1_0.description   // "HTTP/1.0"
/// ```
public enum HTTPVersion: Sendable, Equatable, Hashable, CustomStringConvertible {
    case http1_0
    case http1_1

    public var description: String {
        switch self {
        case .http1_0: "HTTP/1.0"
        case .http1_1: "HTTP/1.1"
        }
    }
}
