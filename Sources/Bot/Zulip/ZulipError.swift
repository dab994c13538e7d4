import Platform
import HTTPServer

/// A failed Zulip API call. Callers branch on `code` (never on Zulip's translated `msg`).
///
/// ```swift
/// do { try client.poll(queue) } catch where error.code == .badEventQueue { /* register again */ }
/// ```
struct ZulipError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Error classes the bot reacts to differently, derived from Zulip's `code` field and the HTTP status.
    enum Code: Sendable, Equatable {
        /// 401 (`INVALID_API_KEY`, `UNAUTHORIZED`, deactivated user/realm): fatal.
        case unauthorized
        /// 400 `BAD_EVENT_QUEUE_ID`, or the pruned/foreign `last_event_id` errors: register again.
        case badEventQueue
        /// 429, or a call not sent because an earlier 429's block has not ended (status 0):
        /// wait `retryAfter` seconds.
        case rateLimited
        /// 5xx or a non-JSON answer: back off and retry.
        case server
        /// No HTTP answer (connect error, timeout, reset).
        case network
        /// Any other 4xx (`BAD_REQUEST` and friends): the request itself is wrong.
        case badRequest
        /// 200 whose JSON does not match what the API documents.
        case decoding
    }

    let code: Code
    /// HTTP status (0 for network errors).
    var status: Int = 0
    /// Zulip's machine-readable `code` field, if any (`BAD_EVENT_QUEUE_ID`, `RATE_LIMIT_HIT`...).
    var zulipCode: String? = nil
    /// Seconds to wait, for `.rateLimited`.
    var retryAfter: Double? = nil
    /// `.network` only: the client's time limit passed without an answer.
    var timedOut = false
    /// What happened, in English, without credentials.
    var message: String

    var description: String {
        var s = "Zulip API error (\(code)"
        if status != 0 { s += ", HTTP \(status)" }
        if let zulipCode { s += ", \(zulipCode)" }
        return s + "): \(message)"
    }

    /// Metric label for `bot_zulip_errors_total{kind}`.
    var kind: String {
        switch code {
        case .unauthorized: "auth"
        case .badEventQueue: "bad_queue"
        case .rateLimited: "rate_limit"
        case .server: "server"
        case .network: "network"
        case .badRequest: "bad_request"
        case .decoding: "decoding"
        }
    }

    static func == (a: ZulipError, b: ZulipError) -> Bool { a.code == b.code }
}
