/// What `HTTPRequestParser.parse` found at the start of a buffer.
///
/// ```swift
/// switch parser.parse(bytes) {
/// case .needMoreData: break                                  // read more, call again
/// case .request(let request, let consumed, let keepAlive): _ = (request, consumed, keepAlive)
/// case .failure(let error): _ = error.status                 // answer and close
/// }
/// ```
public enum HTTPParseResult: Sendable {
    /// The head is not complete yet; call again with the same bytes plus more.
    case needMoreData
    /// A complete head of `consumed` bytes (including any leading empty lines). `keepAlive`
    /// says whether the connection may serve another request after this one.
    case request(HTTPRequest, consumed: Int, keepAlive: Bool)
    /// The head is malformed or over a limit; the connection must be closed after answering.
    case failure(HTTPParseError)
}
