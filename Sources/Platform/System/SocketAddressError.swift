/// A listen address that cannot be used; the message says how to fix the configuration.
///
/// ```swift
/// do { _ = try SocketAddress(ipLiteral: "localhost", port: 80) } catch { print(error.message) }
/// ```
public struct SocketAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
