/// Why a program cannot start or go on, with the exit code that says so to its supervisor and
/// the line for stderr (never a secret; the details are the service's log lines).
///
/// ```swift
/// throw ServiceFailure(code: 2, message: "totp-bot: cannot listen on BOT_LISTEN 127.0.0.1:9101: ...")
/// ```
public struct ServiceFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The process's exit code: 1 runtime failure, 2 configuration (or a start-up resource
    /// the configuration names), 3 and up program-specific.
    public let code: Int32
    /// Printed on stderr as it is before the process exits.
    public let message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
