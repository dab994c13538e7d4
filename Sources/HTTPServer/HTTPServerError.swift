/// Misuse of an `HTTPServer`'s lifecycle.
///
/// ```swift
/// do { try server.start() } catch let error as HTTPServerError { print(error.message) }
/// ```
public struct HTTPServerError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public static let alreadyStarted = HTTPServerError(
        message: "HTTPServer.start() was called twice; create a new server instead")
    public var description: String { message }
}
