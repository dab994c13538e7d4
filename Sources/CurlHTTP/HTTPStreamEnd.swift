/// How a streaming exchange (`HTTPClient.stream`) ended without a transport error.
///
/// ```swift
/// let end = try http.stream(request, cancellation: cancellation) { status, bytes in true }
/// if end.reason == .cancelled { return }
/// ```
public struct HTTPStreamEnd: Sendable {
    public enum Reason: Sendable, Equatable {
        /// The server finished the response.
        case complete
        /// The `onData` receiver returned false.
        case stoppedByReceiver
        /// `HTTPCancellation.cancel()` was called.
        case cancelled
    }

    /// Status code of the response (0 if cancelled before one arrived).
    public var status: Int
    /// Response headers (and trailers) in arrival order.
    public var headers: [(String, String)]
    public var reason: Reason
}
