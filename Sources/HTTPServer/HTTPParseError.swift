/// Why a request head was refused, with the status the server answers and a message saying
/// what the client should fix. Equality compares the kind only.
///
/// ```swift
/// if case .failure(let error) = parser.parse(bytes) {
///     error.status      // 400
///     error.errorName   // "bad_request"
///     error == .obsFold // true for a folded header line
/// }
/// ```
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong with the request, which decides the status code.
    enum Code: Sendable, Equatable {
        case requestLineTooLong, headersTooLarge, tooManyHeaders, bodyNotAllowed
        case transferEncoding, invalidContentLength, multipleContentLength
        case obsFold, bareCR, bareLF, whitespaceBeforeColon, invalidHeaderName, invalidHeaderValue
        case invalidMethod, invalidRequestLine, invalidTarget, absoluteForm
        case missingHost, multipleHost, invalidVersion, unsupportedVersion
    }

    let code: Code
    /// HTTP status to answer with (400, 413, 414, 431 or 505).
    public let status: Int
    /// Human-readable explanation, safe to send to the client.
    public let message: String

    private init(_ code: Code, _ status: Int, _ message: String) {
        self.code = code
        self.status = status
        self.message = message
    }

    /// Machine-readable name used in the JSON error body, derived from the status.
    public var errorName: String {
        switch status {
        case 413: "payload_too_large"
        case 414: "uri_too_long"
        case 431: "header_fields_too_large"
        case 505: "http_version_not_supported"
        default: "bad_request"
        }
    }

    public var description: String { "\(status) \(errorName): \(message)" }

    public static func == (lhs: HTTPParseError, rhs: HTTPParseError) -> Bool { lhs.code == rhs.code }

    public static let requestLineTooLong = HTTPParseError(
        .requestLineTooLong, 414, "request line too long; shorten the URL")
    public static let headersTooLarge = HTTPParseError(
        .headersTooLarge, 431, "header block too large; send fewer or smaller headers")
    public static let tooManyHeaders = HTTPParseError(
        .tooManyHeaders, 431, "too many header fields; send fewer headers")
    public static let bodyNotAllowed = HTTPParseError(
        .bodyNotAllowed, 413, "request bodies are not accepted; send GET or HEAD without a body")
    public static let transferEncoding = HTTPParseError(
        .transferEncoding, 400, "Transfer-Encoding is not accepted; send no body")
    public static let invalidContentLength = HTTPParseError(
        .invalidContentLength, 400, "Content-Length must be a single decimal number")
    public static let multipleContentLength = HTTPParseError(
        .multipleContentLength, 400, "send Content-Length at most once")
    public static let obsFold = HTTPParseError(
        .obsFold, 400, "folded header lines (obs-fold) are not accepted; send each field on one line")
    public static let bareCR = HTTPParseError(
        .bareCR, 400, "bare CR in request head; end lines with CRLF")
    public static let bareLF = HTTPParseError(
        .bareLF, 400, "bare LF in request head; end lines with CRLF")
    public static let whitespaceBeforeColon = HTTPParseError(
        .whitespaceBeforeColon, 400, "whitespace between header name and colon is not allowed")
    public static let invalidHeaderName = HTTPParseError(
        .invalidHeaderName, 400, "header name must be a non-empty token followed by a colon")
    public static let invalidHeaderValue = HTTPParseError(
        .invalidHeaderValue, 400, "header value contains a control character")
    public static let invalidMethod = HTTPParseError(
        .invalidMethod, 400, "method must be a token followed by one space")
    public static let invalidRequestLine = HTTPParseError(
        .invalidRequestLine, 400, "request line must be 'METHOD target HTTP/1.1'")
    public static let invalidTarget = HTTPParseError(
        .invalidTarget, 400, "request target must be printable ASCII without spaces or '#'")
    public static let absoluteForm = HTTPParseError(
        .absoluteForm, 400, "request target must be an origin-form path starting with '/'")
    public static let missingHost = HTTPParseError(
        .missingHost, 400, "HTTP/1.1 requests must carry a Host header")
    public static let multipleHost = HTTPParseError(
        .multipleHost, 400, "send the Host header once")
    public static let invalidVersion = HTTPParseError(
        .invalidVersion, 400, "protocol version must look like HTTP/1.1")
    public static let unsupportedVersion = HTTPParseError(
        .unsupportedVersion, 505, "only HTTP/1.0 and HTTP/1.1 are supported")
}
