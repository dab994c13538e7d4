import CTLS

/// Why a TLS context could not be built: which file and what to do. The text comes from our
/// checks and from OpenSSL's error queue (reason strings such as "key values mismatch"), never
/// from the files' contents, so it may be logged and printed by `--check-config`.
///
/// ```swift
/// do { _ = try TLSContext(files) } catch { print(error.message) }  // "... GATEWAY_TLS_KEY_FILE ..."
/// ```
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, for tests and metrics.
    public enum Code: Sendable, Equatable {
        case certificate, key, keyMismatch, expired, clientCA, setup
    }

    public let code: Code
    /// The setting (or credential) naming the file concerned.
    public let source: String
    public let message: String

    init(_ code: Code, source: String, _ message: String) {
        self.code = code
        self.source = source
        self.message = message
    }

    /// `message` followed by OpenSSL's reason for the last failure, if it gave one; the error
    /// queue is emptied so a later call does not see it.
    static func withOpenSSLReason(_ code: Code, source: String, _ message: String) -> TLSError {
        var reason = ""
        var last: UInt = 0
        while case let e = ERR_get_error(), e != 0 { last = e }
        if last != 0, let text = ERR_reason_error_string(last) { reason = String(cString: text) }
        return TLSError(code, source: source, reason.isEmpty ? message : message + " (OpenSSL: " + reason + ")")
    }

    public var description: String { "\(source): \(message)" }

    public static func == (a: TLSError, b: TLSError) -> Bool { a.code == b.code && a.source == b.source }
}
