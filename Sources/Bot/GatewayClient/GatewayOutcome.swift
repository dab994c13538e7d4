/// What one `GatewayClient.fetchCode` call ended with.
///
/// ```swift
/// switch gateway.fetchCode(label: "db", next: true, requestID: id) {
/// case .code(let c): reply(c.code)
/// case .refused(403, _): reply("You may not read this label.")
/// case .refused(let status, let error): reply("Refused (\(status) \(error)).")
/// case .unavailable: reply("The gateway is unavailable, try again in a minute.")
/// }
/// ```
public enum GatewayOutcome: Sendable, Equatable {
    /// A gateway answered 200 with a code.
    case code(GatewayCode)
    /// A gateway answered a 4xx (400, 401, 403, 404, 429...): a final answer, never retried.
    /// `error` is the JSON `error` field, or `http_<status>` when the body had none.
    case refused(status: Int, error: String)
    /// No gateway answered within the deadline; `reason` lists what each attempt met.
    case unavailable(reason: String)
}
