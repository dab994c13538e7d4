/// One label the bot's token may request, as `GET /labels` lists it: never a seed.
///
/// ```swift
/// if case .labels(let list) = gateway.fetchLabels(requestID: "zulip-42") { list.map(\.label) }
/// ```
public struct GatewayLabel: Sendable, Equatable, Decodable {
    public var label: String
    public var algorithm: String
    public var digits: Int
    public var period: Int
}

/// What one `GatewayClient.fetchLabels` call ended with.
public enum GatewayLabelsOutcome: Sendable, Equatable {
    case labels([GatewayLabel])
    /// A 4xx (401, 403, 429...): the gateway's answer, never retried.
    case refused(status: Int, error: String)
    case unavailable(reason: String)
}

/// The gateway's JSON for `GET /labels`.
struct GatewayLabelsWire: Decodable {
    var labels: [GatewayLabel]
}
