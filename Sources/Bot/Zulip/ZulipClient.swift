import FoundationEssentials
import Platform
import CurlHTTP
import TextSupport
import Synchronization

/// The Zulip REST calls the bot makes, over the shared libcurl `HTTPClient`: HTTP Basic auth,
/// form-encoded parameters (JSON text for lists and booleans), typed `ZulipError`s matched on
/// the `code` field, never on the translated `msg`. Blocking and thread-safe (each thread uses
/// its own curl handle). A 429's `Retry-After` holds every later call against the same limit
/// (`ZulipRateGate`): such a call is not sent and fails as `.rateLimited` with the time left.
///
/// ```swift
/// let zulip = ZulipClient(apiBase: "https://chat.example.com/api/v1", email: email, apiKey: key,
///                         http: HTTPClient(options: HTTPClientOptions(userAgent: "totp-bot/1.0")))
/// let me = try zulip.ownUser()
/// let queue = try zulip.register(featureLevel: 247)
/// ```
final class ZulipClient: Sendable {
    let apiBase: String
    private let email: String
    private let apiKey: String
    private let http: HTTPClient
    /// Called after every call that got a JSON answer from Zulip (for the last-success metric).
    private let onSuccess: @Sendable () -> Void
    /// Called with every failure (for `bot_zulip_errors_total{kind}`).
    private let onError: @Sendable (ZulipError) -> Void

    /// Limit for ordinary calls; the long poll uses the server's timeout plus a margin.
    let callTimeout: Duration = .seconds(15)
    /// When Zulip's rate limits, as last heard, end: a call into a known block is not sent.
    private let rateGate = Mutex(ZulipRateGate())

    init(apiBase: String, email: String, apiKey: String, http: HTTPClient,
         onSuccess: @escaping @Sendable () -> Void = {}, onError: @escaping @Sendable (ZulipError) -> Void = { _ in }) {
        self.apiBase = apiBase
        self.email = email
        self.apiKey = apiKey
        self.http = http
        self.onSuccess = onSuccess
        self.onError = onError
    }

    // MARK: - Endpoints

    func serverSettings() throws(ZulipError) -> ZulipServerSettings {
        try call("GET", "/server_settings", authenticated: false)
    }

    func ownUser() throws(ZulipError) -> ZulipOwnUser {
        try call("GET", "/users/me")
    }

    /// The DM narrow operand for this server: `dm` from FL 177, `private` before (older
    /// servers ignore an unknown operand and would deliver every message).
    static func dmOperand(featureLevel: Int) -> String { featureLevel >= 177 ? "dm" : "private" }

    /// `POST /register` for DM message events (the narrow filters only `message` events), user
    /// and user group changes and reactions (votes on the bot's asks), raw Markdown content;
    /// the answer carries the newest message id, the users and the groups, the starting point
    /// the events apply to. Groups come only from here: `GET /user_groups` refuses bots.
    func register(featureLevel: Int) throws(ZulipError) -> ZulipQueue {
        try call("POST", "/register", [
            ("event_types", #"["message","realm_user","user_group","reaction"]"#),
            ("fetch_event_types", #"["message","realm_user","realm_user_groups"]"#),
            ("narrow", #"[["is",""# + Self.dmOperand(featureLevel: featureLevel) + #""]]"#),
            ("apply_markdown", "false"),
        ])
    }

    /// Long-polls `GET /events`. The server answers within its heartbeat interval; `timeout`
    /// (`LongPollPatience.limit`) ends a poll whose answer will not come (`timedOut` error).
    func events(queueID: String, lastEventID: Int, timeout: Duration) throws(ZulipError) -> [ZulipEvent] {
        let batch: ZulipEventBatch = try call("GET", "/events", [
            ("queue_id", queueID), ("last_event_id", String(lastEventID)),
        ], timeout: timeout)
        return batch.events
    }

    func deleteQueue(_ queueID: String, timeout: Duration? = nil) throws(ZulipError) {
        let _: ZulipEmpty = try call("DELETE", "/events", [("queue_id", queueID)], timeout: timeout)
    }

    /// DMs after `anchor` (exclusive), oldest first, raw Markdown.
    func directMessages(after anchor: Int, count: Int, featureLevel: Int) throws(ZulipError) -> ZulipMessagePage {
        var params: [(String, String)] = [
            ("num_before", "0"), ("num_after", String(count)),
            ("narrow", #"[{"operator":"is","operand":""# + Self.dmOperand(featureLevel: featureLevel) + #""}]"#),
            ("apply_markdown", "false"),
        ]
        if featureLevel >= 155 {
            params.insert(("anchor", String(anchor)), at: 0)
            params.append(("include_anchor", "false"))
        } else {
            params.insert(("anchor", String(anchor + 1)), at: 0)
        }
        return try call("GET", "/messages", params)
    }

    /// The newest DM id (0 when there is none).
    func newestDirectMessageID(featureLevel: Int) throws(ZulipError) -> Int {
        try newestDirectMessages(count: 1, featureLevel: featureLevel).messages.map(\.id).max() ?? 0
    }

    /// The `count` newest DMs, oldest first, raw Markdown.
    func newestDirectMessages(count: Int, featureLevel: Int) throws(ZulipError) -> ZulipMessagePage {
        try call("GET", "/messages", [
            ("anchor", "newest"), ("num_before", String(count)), ("num_after", "0"),
            ("narrow", #"[{"operator":"is","operand":""# + Self.dmOperand(featureLevel: featureLevel) + #""}]"#),
            ("apply_markdown", "false"),
        ])
    }

    /// Sends a DM; returns the new message id. With `queueID` and `localID`, Zulip puts
    /// `local_message_id: localID` on that queue's event for the message (local echo), which
    /// tells the bot a send whose answer was lost did arrive.
    func sendDirect(to userIDs: [Int], content: String, featureLevel: Int, queueID: String? = nil, localID: String? = nil)
        throws(ZulipError) -> Int
    {
        var params: [(String, String)] = [
            ("type", featureLevel >= 174 ? "direct" : "private"),
            ("to", "[" + userIDs.map(String.init).joined(separator: ",") + "]"),
            ("content", content),
        ]
        // The spec: "If [queue_id is] passed, local_id is required."
        if let queueID, let localID { params += [("queue_id", queueID), ("local_id", localID)] }
        let sent: ZulipSentMessage = try call("POST", "/messages", params)
        return sent.id
    }

    /// Sends a message to a stream topic; returns the new message id (local echo as for DMs).
    func sendStream(_ stream: String, topic: String, content: String, queueID: String? = nil, localID: String? = nil)
        throws(ZulipError) -> Int
    {
        var to = ""
        JSONText.appendString(stream, to: &to)
        var params: [(String, String)] = [("type", "stream"), ("to", to), ("topic", topic), ("content", content)]
        if let queueID, let localID { params += [("queue_id", queueID), ("local_id", localID)] }
        let sent: ZulipSentMessage = try call("POST", "/messages", params)
        return sent.id
    }

    /// One message, raw Markdown, with its reactions (`GET /messages/{id}`, FL 120).
    func message(_ id: Int) throws(ZulipError) -> ZulipMessage {
        let answer: ZulipSingleMessage = try call("GET", "/messages/\(id)", [("apply_markdown", "false")])
        return answer.message
    }

    /// The `count` newest messages of one conversation, oldest first, raw Markdown: the DMs
    /// between the bot and `users`, or a stream topic. Where the bot looks for a message it may
    /// have sent before its answer was lost.
    func conversation(users: [Int], stream: String?, topic: String?, count: Int, featureLevel: Int) throws(ZulipError) -> [ZulipMessage] {
        var narrow = "["
        if let stream, let topic {
            var s = "", t = ""
            JSONText.appendString(stream, to: &s)
            JSONText.appendString(topic, to: &t)
            narrow += #"{"operator":"stream","operand":"# + s + #"},{"operator":"topic","operand":"# + t + "}"
        } else {
            let op = featureLevel >= 177 ? "dm" : "pm-with"
            narrow += #"{"operator":""# + op + #"","operand":["# + users.map(String.init).joined(separator: ",") + "]}"
        }
        narrow += "]"
        let page: ZulipMessagePage = try call("GET", "/messages", [
            ("anchor", "newest"), ("num_before", String(count)), ("num_after", "0"), ("narrow", narrow), ("apply_markdown", "false"),
        ])
        return page.messages
    }

    func editMessage(_ id: Int, content: String, timeout: Duration? = nil) throws(ZulipError) {
        let _: ZulipEmpty = try call("PATCH", "/messages/\(id)", [("content", content)], timeout: timeout)
    }

    // MARK: - Transport

    private func call<T: Decodable>(
        _ method: String, _ path: String, _ params: [(String, String)] = [], authenticated: Bool = true,
        timeout: Duration? = nil
    ) throws(ZulipError) -> T {
        var url = apiBase + path
        var request = HTTPClientRequest(method: method, url: url, timeout: timeout ?? callTimeout, connectTimeout: .seconds(5))
        if method == "GET" {
            if !params.isEmpty { url += "?" + String(decoding: FormEncoding.encode(params), as: UTF8.self) }
            request.url = url
        } else {
            request.body = FormEncoding.encode(params)
            request.headers = [("Content-Type", "application/x-www-form-urlencoded")]
        }
        if authenticated { request.basicAuth = (user: email, password: apiKey) }

        // Sending into a block Zulip already announced only earns another 429 (and may keep
        // the block going): fail as Zulip would, with the time left, and send nothing.
        let limit = ZulipRateGate.Limit(path: path)
        if let left = rateGate.withLock({ $0.timeLeft(limit, now: .now) }) {
            throw ZulipError(code: .rateLimited, retryAfter: left.inSeconds,
                             message: "\(method) \(path): not sent: Zulip's rate limit, hit by an earlier call, ends in \(left.inMilliseconds) ms")
        }
        let response: HTTPClientResponse
        do { response = try http.perform(request) } catch {
            let failure = ZulipError(code: .network, timedOut: error.kind == .timeout, message: "\(method) \(path): \(error.description)")
            onError(failure)
            throw failure
        }
        let failure = Self.failure(for: response, method: method, path: path)
        if let failure {
            if failure.code == .rateLimited, let seconds = failure.retryAfter {
                rateGate.withLock { $0.refused(limit, retryAfter: seconds, now: .now) }
            }
            onError(failure)
            throw failure
        }
        do {
            let value = try JSONDecoder().decode(T.self, from: Data(response.body))
            onSuccess()
            return value
        } catch {
            let failure = ZulipError(code: .decoding, status: response.status,
                                     message: "\(method) \(path): unexpected JSON: \(error)")
            onError(failure)
            throw failure
        }
    }

    /// nil for a 2xx answer; otherwise the typed error.
    static func failure(for response: HTTPClientResponse, method: String, path: String) -> ZulipError? {
        if (200..<300).contains(response.status) { return nil }
        let body = try? JSONDecoder().decode(ZulipErrorBody.self, from: Data(response.body))
        let where_ = "\(method) \(path)"
        let msg = "\(where_): " + (body?.msg ?? "HTTP \(response.status) without a Zulip error body")
        switch response.status {
        case 401:
            return ZulipError(code: .unauthorized, status: 401, zulipCode: body?.code, message: msg)
        case 429:
            // Both the header and the body may be fractional. "nan", "inf", a negative or an
            // absurd number is no wait at all: each caller turns it into a sleep, and a
            // non-finite one would trap the process.
            let usable = { (seconds: Double?) -> Double? in
                guard let seconds, seconds.isFinite, seconds >= 0 else { return nil }
                return min(seconds, ZulipRateGate.longest.inSeconds)
            }
            let header = usable(response.header("Retry-After").flatMap { Double($0.trimmingCharacters(in: " ")) })
            return ZulipError(code: .rateLimited, status: 429, zulipCode: body?.code,
                              retryAfter: header ?? usable(body?.retryAfter) ?? 1, message: msg)
        case 500...599:
            return ZulipError(code: .server, status: response.status, zulipCode: body?.code, message: msg)
        default:
            guard let body else {
                return ZulipError(code: .server, status: response.status, message: msg)
            }
            if body.code == "BAD_EVENT_QUEUE_ID" {
                return ZulipError(code: .badEventQueue, status: response.status, zulipCode: body.code, message: msg)
            }
            if body.code == "USER_DEACTIVATED" || body.code == "REALM_DEACTIVATED" || body.code == "INVALID_API_KEY" {
                return ZulipError(code: .unauthorized, status: response.status, zulipCode: body.code, message: msg)
            }
            return ZulipError(code: .badRequest, status: response.status, zulipCode: body.code, message: msg)
        }
    }
}
